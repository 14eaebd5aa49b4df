"""The blob store on any fsspec URL (``gs://``, ``memory://``, ``az://`` …), the backend
imported lazily (:func:`~artiflow.store.fs.open_filesystem` names the extra when it is missing).

Credentials and endpoints come from the backend's own settings (``AWS_ENDPOINT_URL``,
``STORAGE_EMULATOR_HOST``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``FSSPEC_S3_*`` …) or from
``storage_options``. Uploads are retried when the connection drops (an upload under a content
address is idempotent, and a PUT or multipart upload is only visible once complete); large
blobs move in 8 MiB parts, never whole in memory.

Example:
    >>> s = RemoteBlobStore("memory://artiflow-remote-doc"); d = s.put_bytes(b"x")
    >>> s.missing([d, "00" * 32]) == {"00" * 32}, s.read_bytes(d)
    (True, b'x')
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from ..exceptions import StoreError
from ..hashing import hash_file, hash_stream
from .base import PART, QUARANTINE, BlobStore, Progress, quarantine_name, read_error
from .fs import open_filesystem, protocol_of

__all__ = ["HEAD_LIMIT", "WRITE_ATTEMPTS", "RemoteBlobStore", "is_connection_error", "listed_mtime"]

HEAD_LIMIT = 64  # up to this many digests: one HEAD each; more: list the shards instead
WRITE_ATTEMPTS = 5
_CONNECTION_ERRORS = {
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "ResponseStreamingError",
    "IncompleteReadError",
    "ClientConnectionError",
    "ClientPayloadError",
    "ServerDisconnectedError",
}


def is_connection_error(exc: BaseException) -> bool:
    """A dropped, refused or timed-out connection (builtin, botocore or aiohttp flavour).

    Example:
        >>> is_connection_error(ConnectionResetError()), is_connection_error(ValueError())
        (True, False)
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return bool({c.__name__ for c in type(exc).__mro__} & _CONNECTION_ERRORS)


def listed_mtime(info: Mapping[str, Any]) -> float:
    """When a listed object was written; unknown counts as now, so gc's grace period holds.

    Example:
        >>> listed_mtime({"mtime": 5})
        5.0
    """
    value = (
        info.get("LastModified") or info.get("mtime") or info.get("updated") or info.get("created")
    )
    if value is None:
        return time.time()
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    if isinstance(value, str):
        from datetime import datetime

        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def _callback(progress: Callable[[int], object]) -> Any:
    """An fsspec callback forwarding byte counts to ``progress``."""
    from fsspec.callbacks import Callback

    class _Forward(Callback):  # type: ignore[misc]
        def relative_update(self, inc: int = 1) -> None:
            if inc:
                progress(inc)

        def absolute_update(self, value: int) -> None:
            pass

    return _Forward()


class RemoteBlobStore(BlobStore):
    """A blob store on an fsspec URL (see the module docstring).

    Example:
        >>> RemoteBlobStore("memory://artiflow-remote-doc2").protocol
        'memory'
    """

    is_local = False

    def _open_root(self) -> str:
        self.fs, root = open_filesystem(self.url, self.storage_options)
        self.protocol = protocol_of(self.fs)
        return root

    # ---- queries ------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        """True when the blob is stored (one request).

        Example:
            >>> RemoteBlobStore("memory://artiflow-remote-doc3").exists("ab" * 32)
            False
        """
        try:
            return self._exists(self.path(digest))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot reach store {self.url!r}: {exc}") from exc

    def _exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def missing(self, digests: Iterable[str], sizes: Mapping[str, int] | None = None) -> set[str]:
        """The subset of ``digests`` that is not stored, checked in parallel: one HEAD per
        digest for a few (up to :data:`HEAD_LIMIT`), one listing per shard for many. Objects
        are written whole (a PUT, a completed multipart upload): ``sizes`` is not needed.

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc4"); d = s.put_bytes(b"x")
            >>> s.missing([d, "00" * 32]) == {"00" * 32}
            True
        """
        wanted = set(digests)
        if not wanted:
            return set()
        if len(wanted) <= HEAD_LIMIT:
            order = sorted(wanted)
            found = self._pool_map(self.exists, order)
            return {d for d, ok in zip(order, found, strict=True) if not ok}
        # one listing of the root first: only shards that exist are listed (a new or small
        # store has few, and 500 new blobs no longer cost 256 listings)
        shards = {n.rstrip("/").rsplit("/", 1)[-1] for n in self._list(self.root_path)}
        present: set[str] = set()
        for names in self._pool_map(self._shard_names, sorted({d[:2] for d in wanted} & shards)):
            present |= names
        return wanted - present

    def _list(self, path: str) -> list[str]:
        try:
            return list(self.fs.ls(path, detail=False))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc

    def _shard_names(self, prefix: str) -> set[str]:
        names = self._list(f"{self.root_path}/{prefix}")
        return {prefix + n.rstrip("/").rsplit("/", 1)[-1] for n in names}

    def iter_blob_info(self) -> Iterator[tuple[str, float, int]]:
        """Yield ``(digest, modified_time, size)`` for every blob, from one recursive listing.

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc5"); d = s.put_bytes(b"xyz")
            >>> [(b == d, size) for b, _, size in s.iter_blob_info()]
            [(True, 3)]
        """
        try:
            listing = self.fs.find(self.root_path, detail=True)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
        root = self.fs._strip_protocol(self.root_path).rstrip("/")
        for path, info in listing.items():
            rel = self.fs._strip_protocol(path)[len(root) :].strip("/").split("/")
            if len(rel) != 2 or len(rel[0]) != 2 or len(rel[0] + rel[1]) != 64:
                continue
            yield rel[0] + rel[1], listed_mtime(info), int(info.get("size") or 0)

    # ---- writing ------------------------------------------------------------------------
    def _write(self, digest: str, write: Callable[[], object]) -> None:
        """Run one upload, retried (up to :data:`WRITE_ATTEMPTS` times, with backoff) when the
        connection drops or times out: an upload under a content address is idempotent, and a
        PUT or multipart upload is only visible once complete, so a cut one leaves nothing."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                write()
                return
            except (FileNotFoundError, PermissionError) as exc:
                raise StoreError(f"cannot write blob {digest[:12]} to {self.url!r}: {exc}") from exc
            except Exception as exc:
                if not is_connection_error(exc) or attempt == WRITE_ATTEMPTS - 1:
                    if not isinstance(exc, OSError) and not is_connection_error(exc):
                        raise
                    raise StoreError(
                        f"cannot write blob {digest[:12]} to {self.url!r} "
                        f"(tried {attempt + 1} times): {exc}; nothing was logged, log it again"
                    ) from exc
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def _write_bytes(self, data: bytes, digest: str) -> None:
        self._write(digest, lambda: self.fs.pipe_file(self.path(digest), data))

    def _upload_options(self) -> dict[str, Any]:
        """Keyword arguments of ``fs.put_file`` that bound memory per upload."""
        if self.protocol in ("gs", "gcs"):
            return {"chunksize": PART}  # resumable upload in parts
        return {}

    def _upload(self, local_path: str | os.PathLike[str], digest: str, progress: Progress) -> None:
        kwargs = self._upload_options()
        sent = [0]
        if progress is not None:
            report = progress

            def count(n: int) -> None:
                sent[0] += n
                report(n)

            kwargs["callback"] = _callback(count)
        # a PUT, or a multipart upload that is only completed at the end: readers see the
        # whole blob or none, also when this process is killed half-way
        self._write(
            digest, lambda: self.fs.put_file(os.fspath(local_path), self.path(digest), **kwargs)
        )
        if progress is not None:  # some backends report nothing for single-request uploads
            rest = os.stat(local_path).st_size - sent[0]
            if rest > 0:
                progress(rest)

    def _put_new(
        self, local_path: str | os.PathLike[str], digest: str | None, progress: Progress
    ) -> tuple[str, int]:
        found, size = (
            hash_file(local_path) if digest is None else (digest, os.stat(local_path).st_size)
        )
        if self.exists(found):
            if progress is not None:
                progress(size)
        else:
            self._upload(local_path, found, progress)
        return found, size

    def _put_known(
        self, path: str, digest: str, progress: Progress, before: os.stat_result | None
    ) -> None:
        before = before or os.stat(path)
        self._upload(path, digest, progress)
        after = os.stat(path)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            self.delete(digest)
            raise StoreError(
                f"file {path!r} changed while it was being stored; nothing was logged, "
                "log it again once it is complete"
            )

    # ---- reading ------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading (unverified; prefer :meth:`get_file` / :meth:`read_bytes`).

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc6")
            >>> with s.open(s.put_bytes(b"hi")) as fh: fh.read()
            b'hi'
        """
        try:
            return self.fs.open(self.path(digest), "rb")  # type: ignore[no-any-return]
        except OSError as exc:
            raise read_error(digest, self.url, exc) from exc

    def hash_blob(self, digest: str, *, progress: Progress = None) -> tuple[str, int] | None:
        """``(digest, size)`` of the stored object, streamed; None when it is not there.

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc7"); d = s.put_bytes(b"x")
            >>> s.hash_blob(d) == (d, 1), s.hash_blob("00" * 32)
            (True, None)
        """
        try:
            with self.fs.open(self.path(digest), "rb", block_size=PART) as fh:
                return hash_stream(fh, progress=progress)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise read_error(digest, self.url, exc) from exc

    def _download_options(self) -> dict[str, Any]:
        """Keyword arguments of ``fs.get_file`` (a backend may bound its parallel parts)."""
        return {}

    def _fetch(self, digest: str, tmp: Path, progress: Progress) -> str:
        kwargs = self._download_options()
        if progress is not None:
            kwargs["callback"] = _callback(progress)
        try:
            self.fs.get_file(self.path(digest), str(tmp), **kwargs)
        except OSError as exc:
            raise read_error(digest, self.url, exc) from exc
        return hash_file(tmp)[0]

    # ---- setting aside ------------------------------------------------------------------
    def quarantine(self, digest: str) -> str | None:
        """Copy the object to ``<root>/quarantine/<digest>.<UTC timestamp>`` and remove the
        original only once the copy exists; None when nothing was there. Nothing is deleted.

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc8"); d = s.put_bytes(b"x")
            >>> s.quarantine(d) is not None, s.exists(d)
            (True, False)
        """
        target = f"{self.root_path}/{QUARANTINE}/{quarantine_name(digest)}"
        try:
            self.fs.copy(self.path(digest), target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"cannot move blob {digest[:12]} aside in {self.url!r} (it was left in place): {exc}"
            ) from exc
        try:
            self.fs.rm_file(self.path(digest))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(
                f"blob {digest[:12]} was copied to {target!r} but could not be removed from its "
                f"place in {self.url!r}: {exc}"
            ) from exc
        return str(target)

    def quarantined(self) -> dict[str, list[str]]:
        """The blobs set aside: digest -> paths of the copies.

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc9"); d = s.put_bytes(b"x")
            >>> _ = s.quarantine(d); list(s.quarantined()) == [d]
            True
        """
        out: dict[str, list[str]] = {}
        try:
            paths = sorted(self.fs.find(f"{self.root_path}/{QUARANTINE}"))
        except FileNotFoundError:
            return out
        except OSError as exc:
            raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
        for path in paths:
            name = path.rstrip("/").rsplit("/", 1)[-1]
            out.setdefault(name.split(".", 1)[0], []).append(path)
        return out

    # ---- removing -----------------------------------------------------------------------
    def delete(self, digest: str) -> None:
        """Remove a blob (missing blobs are ignored).

        Example:
            >>> s = RemoteBlobStore("memory://artiflow-remote-doc10"); d = s.put_bytes(b"x")
            >>> s.delete(d); s.exists(d)
            False
        """
        try:
            self.fs.rm_file(self.path(digest))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot delete blob {digest[:12]} from {self.url!r}: {exc}") from exc
