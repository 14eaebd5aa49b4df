"""The blob store on ``s3://`` (s3fs): what S3 does better than the generic fsspec calls.

One ``HEAD`` per presence check (never a LIST); a batch of presence checks (:meth:`missing`)
costs one listing page for a store of up to 1,000 blobs and, beyond, whatever is cheapest of
listing on, listing the shards wanted, or one HEAD per digest; deletes in bulk requests of 1,000 keys,
multipart uploads in 8 MiB parts two at a time (memory stays near 2 x 8 MiB per transfer), one
streamed GET per download, and ``clean_tmp`` aborting the unfinished multipart uploads killed
writers left (invisible, but stored and billed).

Example:
    >>> S3BlobStore.protocols
    ('s3', 's3a')
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..exceptions import StoreError
from .base import PART
from .remote import RemoteBlobStore, listed_mtime

__all__ = ["PARTS_AT_ONCE", "S3BlobStore"]

PARTS_AT_ONCE = 2  # parts of one file in flight: memory stays near 2 x 8 MiB per transfer
DELETE_BATCH = 1000  # keys per DeleteObjects request (the S3 maximum)
SHARDS = 256  # blob folders ab/, cd/ … under the root


class S3BlobStore(RemoteBlobStore):
    """A blob store in an S3 bucket (or prefix), e.g. ``s3://bucket/artiflow``."""

    protocols = ("s3", "s3a")

    def _exists(self, path: str) -> bool:
        bucket, key, _ = self.fs.split_path(path)
        self.fs.call_s3("head_object", Bucket=bucket, Key=key)  # one request, no LIST
        return True

    def missing(self, digests: Iterable[str], sizes: Mapping[str, int] | None = None) -> set[str]:
        """The subset of ``digests`` that is not stored, for the whole batch at once: the store
        is listed in key order one page (1,000 keys) after the other; after each page, the
        requests still needed are estimated for listing on (digests are uniform over the 256
        shards, so the keys seen tell how far the listing is), for listing only the shards still
        wanted, and for one HEAD per digest still unknown, and the cheapest is taken.
        Re-logging unchanged content of a store of up to 1,000 blobs costs one request."""
        wanted = set(digests)
        if not wanted:
            return set()
        bucket, key, _ = self.fs.split_path(self.root_path)
        prefix = f"{key}/" if key else ""
        present: set[str] = set()
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        pages = 0
        while True:
            try:
                page = self.fs.call_s3("list_objects_v2", **kwargs)
            except FileNotFoundError:  # no bucket (yet): nothing is stored, the upload says more
                return wanted - present
            except OSError as exc:
                raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
            pages += 1
            last = ""
            for obj in page.get("Contents", []):
                last = obj["Key"][len(prefix) :]
                shard, _, name = last.partition("/")
                if len(shard) == 2 and len(shard) + len(name) == 64:
                    present.add(shard + name)
            if not page.get("IsTruncated"):
                return wanted - present
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
            rest = {d for d in wanted - present if d[:2] >= last[:2]}
            if not rest:
                return wanted - present
            done = (int(last[:2], 16) + 1) / SHARDS if _is_shard(last[:2]) else 1.0
            listing_left = pages * (1 - done) / done
            per_shard = len({d[:2] for d in rest}) * max(1, math.ceil(listing_left / SHARDS))
            if min(per_shard, len(rest)) >= listing_left:
                continue
            if len(rest) <= per_shard:
                order = sorted(rest)
                found = self._pool_map(self.exists, order)
                return (wanted - present - rest) | {
                    d for d, ok in zip(order, found, strict=True) if not ok
                }
            for names in self._pool_map(self._shard_names, sorted({d[:2] for d in rest})):
                present |= names
            return wanted - present

    def _upload_options(self) -> dict[str, Any]:
        # multipart above 2 parts (bounded memory); s3fs reads this many parts ahead
        return {"chunksize": PART, "max_concurrency": PARTS_AT_ONCE}

    def _download_options(self) -> dict[str, Any]:
        return {"max_concurrency": 1}  # one streamed GET, not 10 x 50 MiB parts held at once

    def delete_many(self, digests: Sequence[str]) -> None:
        """Remove many blobs (missing ones are ignored) in bulk requests of 1,000 keys."""
        for start in range(0, len(digests), DELETE_BATCH):
            keys = [self.fs.split_path(self.path(d)) for d in digests[start : start + DELETE_BATCH]]
            try:
                reply = self.fs.call_s3(
                    "delete_objects",
                    Bucket=keys[0][0],
                    Delete={"Objects": [{"Key": k} for _, k, _ in keys], "Quiet": True},
                )
            except OSError as exc:
                raise StoreError(f"cannot delete blobs from {self.url!r}: {exc}") from exc
            errors = reply.get("Errors") or []
            if errors:
                first = errors[0]
                raise StoreError(
                    f"cannot delete {len(errors)} blobs from {self.url!r} (e.g. "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')})"
                )

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Abort the multipart uploads under the store's prefix started more than
        ``older_than`` seconds ago; returns how many. Without permission to list uploads
        nothing is removed (a bucket lifecycle rule must do it)."""
        bucket, key, _ = self.fs.split_path(self.root_path)
        cutoff = time.time() - older_than
        removed = 0
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{key}/" if key else ""}
        try:
            while True:
                page = self.fs.call_s3("list_multipart_uploads", **kwargs)
                for up in page.get("Uploads", []):
                    if listed_mtime({"LastModified": up.get("Initiated")}) <= cutoff:
                        with contextlib.suppress(FileNotFoundError):
                            self.fs.call_s3(
                                "abort_multipart_upload",
                                Bucket=bucket,
                                Key=up["Key"],
                                UploadId=up["UploadId"],
                            )
                        removed += 1
                if not page.get("IsTruncated"):
                    return removed
                kwargs["KeyMarker"] = page.get("NextKeyMarker")
                kwargs["UploadIdMarker"] = page.get("NextUploadIdMarker")
        except PermissionError:
            return removed


def _is_shard(name: str) -> bool:
    return len(name) == 2 and all(c in "0123456789abcdef" for c in name)
