"""Object-store references (``s3://``, ``gs://`` and any other fsspec URL).

Recorded: ETag, size and the ``VersionId`` when an S3 bucket is versioned; md5, crc32c, size and
generation on GCS. A prefix lists at most ``limit`` objects page by page and stops with an
error past that, never cutting the listing silently. Downloads fetch the recorded version (S3
``VersionId``, GCS generation). Object stores are reached with the backend's own settings
(``AWS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``, ``FSSPEC_S3_*`` …) plus ``options``.

Example:
    >>> info_identity({"ETag": '"e1"', "VersionId": "null", "size": 3}, "s3")
    {'etag': 'e1'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidPathError, StoreError
from ..hashing import hash_stream
from ..manifest import Entry, normalize_path
from ..store import open_filesystem
from .base import GS, S3, Hasher, Sink, entry_options, gone, scheme_of, too_many

__all__ = ["fetch", "filesystem_for", "identity", "info_identity", "resolve"]

_INFO_KEYS = (
    ("md5Hash", "md5"),
    ("crc32c", "crc32c"),
    ("VersionId", "version_id"),
    ("generation", "generation"),
)


def filesystem_for(uri: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    """The fsspec file system and path of ``uri`` (S3: version-aware)."""
    opts = dict(options)
    if scheme_of(uri) in S3:
        opts["version_aware"] = True
    return open_filesystem(uri, opts)


def info_identity(info: Mapping[str, Any], scheme: str) -> dict[str, Any]:
    """The identity fields (etag, md5, crc32c, version_id, generation) of listed metadata."""
    extra: dict[str, Any] = {}
    etag = info.get("ETag") or info.get("etag")
    if etag and scheme not in GS:  # a GCS etag also changes with metadata: md5/crc32c it is
        extra["etag"] = str(etag).strip('"')
    for src, dst in _INFO_KEYS:
        value = info.get(src)
        if value not in (None, "", "null"):
            extra[dst] = str(value)
    return extra


def _s3_versioned(fs: Any, bucket: str) -> bool:
    try:
        status = fs.call_s3("get_bucket_versioning", Bucket=bucket).get("Status")
    except (OSError, ValueError):  # no permission to ask: record what listing gives
        return False
    return status in ("Enabled", "Suspended")


def _s3_pages(
    fs: Any, uri: str, call: str, kwargs: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Every object of a paged S3 listing (``list_object_versions``: the latest versions);
    raises once more than ``limit`` are seen (without listing the rest)."""
    out: list[dict[str, Any]] = []
    versions = call == "list_object_versions"
    while True:
        page = fs.call_s3(call, **kwargs)
        if versions:
            out.extend(
                v
                for v in page.get("Versions", [])
                if v.get("IsLatest") and not v["Key"].endswith("/")
            )
        else:
            out.extend(o for o in page.get("Contents", []) if not o["Key"].endswith("/"))
        if len(out) > limit:
            raise too_many(uri, limit)
        if not page.get("IsTruncated"):
            return out
        if versions:
            kwargs["KeyMarker"] = page.get("NextKeyMarker")
            kwargs["VersionIdMarker"] = page.get("NextVersionIdMarker")
        else:
            kwargs["ContinuationToken"] = page["NextContinuationToken"]


def _s3_list(fs: Any, uri: str, bucket: str, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Objects under ``prefix``, with their version ids on versioned buckets."""
    call = "list_object_versions" if _s3_versioned(fs, bucket) else "list_objects_v2"
    return _s3_pages(fs, uri, call, {"Bucket": bucket, "Prefix": prefix}, limit)


def _list_prefix(
    fs: Any, uri: str, base: str, limit: int
) -> list[tuple[str, int | None, dict[str, Any]]]:
    """``(path, size, identity)`` of every object below ``base``."""
    scheme = scheme_of(uri)
    found: list[tuple[str, int | None, dict[str, Any]]] = []
    try:
        if scheme in S3:
            bucket, key, _ = fs.split_path(base)
            for obj in _s3_list(fs, uri, bucket, f"{key}/" if key else "", limit):
                found.append(
                    (f"{bucket}/{obj['Key']}", obj.get("Size"), info_identity(obj, scheme))
                )
        else:
            listing = fs.find(base, detail=True)
            if len(listing) > limit:
                raise too_many(uri, limit)
            for key, meta in listing.items():
                found.append((key, meta.get("size"), info_identity(meta, scheme)))
    except FileNotFoundError as exc:
        raise InvalidPathError(f"reference {uri!r} does not exist") from exc
    except OSError as exc:
        raise StoreError(f"cannot list reference {uri!r}: {exc}") from exc
    return found


def resolve(
    entry_path: str, uri: str, limit: int, hasher: Hasher | None, options: Mapping[str, Any]
) -> list[Entry]:
    """One entry for an object, one per object below a prefix (at most ``limit``)."""
    fs, path = filesystem_for(uri, options)
    scheme = scheme_of(uri)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError(f"cannot reach reference {uri!r}: {exc}") from exc
    if info is not None and info.get("type") == "file":
        return [
            Entry(entry_path, size=info.get("size"), ref=uri, extra=info_identity(info, scheme))
        ]
    base = path.rstrip("/")
    found = _list_prefix(fs, uri, base, limit)
    if not found:
        raise InvalidPathError(f"reference {uri!r} matches no object")
    root = fs._strip_protocol(base).rstrip("/")
    out = []
    for key, size, extra in sorted(found):
        rel = fs._strip_protocol(key)[len(root) :].lstrip("/")
        out.append(
            Entry(
                normalize_path(f"{entry_path}/{rel}"),
                size=size,
                ref=f"{scheme}://{fs._strip_protocol(key)}",
                extra=extra,
            )
        )
    return out


def _object_info(fs: Any, path: str, scheme: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Fresh metadata of a (pinned) object; ``{}`` when it is gone."""
    try:
        if scheme in S3:
            bucket, key, _ = fs.split_path(path)
            kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if "version_id" in extra:
                kwargs["VersionId"] = extra["version_id"]
            head = fs.call_s3("head_object", **kwargs)
            return {
                "ETag": head.get("ETag"),
                "size": head.get("ContentLength"),
                **({"VersionId": head["VersionId"]} if head.get("VersionId") else {}),
            }
        fs.invalidate_cache(path)
        info: dict[str, Any] = fs.info(path)
        return info
    except FileNotFoundError:
        return {}
    except OSError as exc:
        if "version" in str(exc).lower() or "400" in str(exc):
            return {}  # an unknown version id: the pinned object is gone
        raise StoreError(f"cannot reach reference {path!r}: {exc}") from exc


def identity(entry: Entry, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``size`` and identity fields of the object now (its pinned version); ``{}`` if gone."""
    assert entry.ref is not None
    scheme = scheme_of(entry.ref)
    fs, path = filesystem_for(entry.ref, entry_options(entry) if options is None else options)
    info = _object_info(fs, path, scheme, entry.extra)
    if not info:
        return {}
    return {"size": info.get("size"), **info_identity(info, scheme)}


def fetch(entry: Entry, sink: Sink, options: Any) -> tuple[str, int, list[str]]:
    """Stream the recorded S3 version / GCS generation into ``sink``."""
    assert entry.ref is not None
    scheme = scheme_of(entry.ref)
    fs, path = filesystem_for(entry.ref, entry_options(entry) if options is None else options)
    kwargs: dict[str, Any] = {}
    if scheme in S3 and "version_id" in entry.extra:
        kwargs["version_id"] = entry.extra["version_id"]
    if scheme in GS and "generation" in entry.extra:
        kwargs["generation"] = entry.extra["generation"]
    try:
        with fs.open(path, "rb", block_size=8 * 1024 * 1024, **kwargs) as src:
            details = getattr(src, "details", None) or {}
            remote_etag = str(details.get("ETag") or "").strip('"')
            digest, size = hash_stream(src, sink=sink)
    except FileNotFoundError as exc:
        raise gone(entry) from exc
    except OSError as exc:
        raise StoreError(f"cannot download reference {entry.ref!r}: {exc}") from exc
    etag = entry.extra.get("etag")
    problems = []
    if scheme in S3 and etag and remote_etag and remote_etag != etag:
        problems.append("its ETag changed")
    return digest, size, problems
