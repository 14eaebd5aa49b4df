"""Content-addressed blobs over fsspec.

Blobs are named by their BLAKE3 digest and sharded ``<root>/ab/cdef…``. Writes are atomic (a
temporary name, then a rename; object stores' PUT is atomic by itself) and never overwrite an
existing blob. Every read is verified against the digest.

Local folders get a fast path that hashes and writes in one read of the source file; any other
fsspec URL (``s3://``, ``gs://``, ``memory://``) goes through fsspec, lazily importing the backend
and naming the extra to install when it is missing.

Example:
    >>> import tempfile, os
    >>> store = BlobStore(tempfile.mkdtemp())
    >>> digest = store.put_bytes(b"hello")
    >>> store.exists(digest), store.read_bytes(digest)
    (True, b'hello')
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .exceptions import StoreError, VerificationError
from .hashing import hash_bytes, hash_file, hash_stream

__all__ = ["BlobStore", "link_or_copy"]

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
_SMALL = 1024 * 1024
Progress = Callable[[int], object] | None


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        proto = url.split("://", 1)[0]
        extra = _EXTRAS.get(proto)
        hint = (
            f"pip install 'artiflow[{extra}]'"
            if extra
            else f"install the fsspec backend for {proto!r}"
        )
        raise StoreError(f"cannot open store {url!r}: {exc}. Install it with: {hint}") from exc
    except ValueError as exc:
        raise StoreError(f"cannot open store {url!r}: {exc}") from exc
    return fs, root.rstrip("/")


class BlobStore:
    """A content-addressed blob store at ``url`` (a local folder or any fsspec URL)."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.is_local = _is_local(url)
        if self.is_local:
            self.root = Path(url[len("file://") :] if url.startswith("file://") else url)
            self.fs: Any = None
            self._tmp = self.root / "tmp"
        else:
            self.fs, self._remote_root = _filesystem(url, self.storage_options)

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    # ---- naming -------------------------------------------------------------------------
    def path(self, digest: str) -> str:
        """Where the blob of ``digest`` lives (a local path or a URL path of the backend)."""
        if self.is_local:
            return str(self.root / digest[:2] / digest[2:])
        return f"{self._remote_root}/{digest[:2]}/{digest[2:]}"

    # ---- queries ------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        """True when the blob is stored."""
        if self.is_local:
            return os.path.exists(self.path(digest))
        try:
            return bool(self.fs.exists(self.path(digest)))
        except OSError as exc:
            raise StoreError(f"cannot reach store {self.url!r}: {exc}") from exc

    def missing(self, digests: Iterable[str]) -> set[str]:
        """The subset of ``digests`` that is not stored."""
        wanted = set(digests)
        if self.is_local:
            return {d for d in wanted if not os.path.exists(self.path(d))}
        if not wanted:
            return set()
        present: set[str] = set()
        for prefix in {d[:2] for d in wanted}:
            try:
                names = self.fs.ls(f"{self._remote_root}/{prefix}", detail=False, refresh=True)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
            present.update(prefix + n.rstrip("/").rsplit("/", 1)[-1] for n in names)
        return wanted - present

    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        """Yield ``(digest, modified_time)`` for every blob in the store."""
        if self.is_local:
            if not self.root.exists():
                return
            for shard in os.scandir(self.root):
                if len(shard.name) != 2 or not shard.is_dir():
                    continue
                for blob in os.scandir(shard.path):
                    if blob.is_file():
                        yield shard.name + blob.name, blob.stat().st_mtime
            return
        try:
            listing = self.fs.find(self._remote_root, detail=True)
        except FileNotFoundError:
            return
        for path, info in listing.items():
            parts = path.rstrip("/").rsplit("/", 2)
            if len(parts) < 3 or len(parts[-2]) != 2:
                continue
            mtime = info.get("LastModified") or info.get("updated") or info.get("mtime") or 0
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            elif isinstance(mtime, str):
                from datetime import datetime

                mtime = datetime.fromisoformat(mtime.replace("Z", "+00:00")).timestamp()
            yield parts[-2] + parts[-1], float(mtime)

    # ---- writing ------------------------------------------------------------------------
    def _tmp_path(self) -> Path:
        self._tmp.mkdir(parents=True, exist_ok=True)
        return self._tmp / uuid.uuid4().hex

    def _install(self, tmp: Path, digest: str) -> None:
        final = Path(self.path(digest))
        if final.exists():
            tmp.unlink(missing_ok=True)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)  # blobs are read-only, so hardlinked checkouts cannot corrupt them
        os.replace(tmp, final)

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest.

        Example:
            >>> import tempfile
            >>> BlobStore(tempfile.mkdtemp()).put_bytes(b"")[:8]
            'af1349b9'
        """
        digest = hash_bytes(data)
        if self.exists(digest):
            return digest
        if self.is_local:
            tmp = self._tmp_path()
            with open(tmp, "wb") as fh:
                fh.write(data)
            self._install(tmp, digest)
        else:
            self._remote_write(digest, lambda: self.fs.pipe_file(self.path(digest), data))
        return digest

    def put_file(
        self,
        local_path: str | os.PathLike[str],
        *,
        digest: str | None = None,
        progress: Progress = None,
    ) -> tuple[str, int]:
        """Store a local file, hashing it in the same read. Returns ``(digest, size)``.

        When ``digest`` is given (from the stat cache) and the blob exists, nothing is read.

        Example:
            >>> import tempfile, os
            >>> d = tempfile.mkdtemp(); p = os.path.join(d, "f")
            >>> _ = open(p, "wb").write(b"abc")
            >>> BlobStore(os.path.join(d, "store")).put_file(p)[1]
            3
        """
        if digest is not None and self.exists(digest):
            size = os.stat(local_path).st_size
            if progress is not None:
                progress(size)
            return digest, size
        if not self.is_local:
            return self._put_remote(local_path, digest=digest, progress=progress)
        try:
            size = os.stat(local_path).st_size
            if size <= _SMALL:
                with open(local_path, "rb", buffering=0) as fh:
                    data = fh.read()
                found = hash_bytes(data)
                if not os.path.exists(self.path(found)):
                    tmp = self._tmp_path()
                    with open(tmp, "wb") as out:
                        out.write(data)
                    self._install(tmp, found)
                if progress is not None:
                    progress(len(data))
                return found, len(data)
            tmp = self._tmp_path()
            try:
                with open(tmp, "wb", buffering=0) as out:
                    found, size = hash_file(local_path, sink=out.write, progress=progress)
                self._install(tmp, found)
            finally:
                tmp.unlink(missing_ok=True)
            return found, size
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(
                f"cannot store {os.fspath(local_path)!r} in {self.url!r}: {exc}"
            ) from exc

    def _remote_write(self, digest: str, write: Callable[[], object]) -> None:
        try:
            write()
        except OSError as exc:
            raise StoreError(f"cannot write blob {digest[:12]} to {self.url!r}: {exc}") from exc

    def _put_remote(
        self, local_path: str | os.PathLike[str], *, digest: str | None, progress: Progress
    ) -> tuple[str, int]:
        found, size = (
            hash_file(local_path) if digest is None else (digest, os.stat(local_path).st_size)
        )
        if not self.exists(found):
            # object PUTs are atomic: readers see the whole blob or none
            self._remote_write(
                found, lambda: self.fs.put_file(os.fspath(local_path), self.path(found))
            )
        if progress is not None:
            progress(size)
        return found, size

    def put_many(
        self,
        items: list[tuple[str, str]],
        *,
        progress: Progress = None,
        batch_size: int | None = None,
    ) -> None:
        """Upload many ``(local_path, digest)`` pairs whose digests are known, in parallel.

        Object stores get one concurrent ``fs.put`` (s3fs/gcsfs run it on their event loop);
        local folders copy with a thread pool.
        """
        todo = [(p, d) for p, d in items]
        if not todo:
            return
        missing = self.missing(d for _, d in todo)
        todo = [(p, d) for p, d in todo if d in missing]
        seen: set[str] = set()
        unique = []
        for p, d in todo:
            if d not in seen:
                seen.add(d)
                unique.append((p, d))
        if self.is_local:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=4) as pool:
                for _ in pool.map(lambda pd: self.put_file(pd[0], digest=None), unique):
                    pass
        elif unique:
            kwargs: dict[str, Any] = {}
            if batch_size is not None:
                kwargs["batch_size"] = batch_size
            try:
                self.fs.put([p for p, _ in unique], [self.path(d) for _, d in unique], **kwargs)
            except OSError as exc:
                raise StoreError(
                    f"cannot upload {len(unique)} blobs to {self.url!r}: {exc}"
                ) from exc
        if progress is not None:
            for p, _ in items:
                progress(os.stat(p).st_size)

    # ---- reading ------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading (unverified; prefer :meth:`get_file` / :meth:`read_bytes`)."""
        try:
            if self.is_local:
                return open(self.path(digest), "rb")
            return self.fs.open(self.path(digest), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise StoreError(
                f"blob {digest} is missing from store {self.url!r}: the store lost content the "
                "registry still references; restore it or re-log the artifact"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot read blob {digest[:12]} from {self.url!r}: {exc}") from exc

    def read_bytes(self, digest: str) -> bytes:
        """The verified content of a blob."""
        with self.open(digest) as fh:
            data = fh.read()
        if hash_bytes(data) != digest:
            raise VerificationError(f"blob {digest} in {self.url!r} is corrupt (hash mismatch)")
        return data

    def get_file(
        self, digest: str, dest: str | os.PathLike[str], *, progress: Progress = None
    ) -> None:
        """Write the blob to ``dest`` atomically, verifying its hash on the way.

        A corrupt blob raises :class:`VerificationError` and leaves ``dest`` untouched.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.artiflow-{uuid.uuid4().hex[:8]}"
        try:
            with self.open(digest) as src, open(tmp, "wb") as out:
                found, _ = hash_stream(src, sink=out.write, progress=progress)
            if found != digest:
                raise VerificationError(
                    f"blob {digest} in {self.url!r} is corrupt (its content hashes to {found}); "
                    "it was not handed out. Re-log the artifact or restore the blob"
                )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, digest: str) -> None:
        """Remove a blob (missing blobs are ignored)."""
        if self.is_local:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(digest))
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(digest))

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by killed writers. Returns how many were removed."""
        if not self.is_local or not self._tmp.exists():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in os.scandir(self._tmp):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
        return removed


def _reflink(src: str, dst: str) -> None:
    import fcntl

    FICLONE = 0x40049409
    with open(src, "rb") as s, open(dst, "wb") as d:
        fcntl.ioctl(d.fileno(), FICLONE, s.fileno())


def link_or_copy(
    src: str, dst: Path, link_type: str, digest: str, progress: Progress = None
) -> None:
    """Materialise the verified local blob ``src`` at ``dst`` by ``link_type``.

    ``copy`` hashes while copying; the link types hash the blob once before linking, so every
    file handed out is verified. ``reflink`` falls back to a copy where the file system has none.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.artiflow-{uuid.uuid4().hex[:8]}"
    try:
        if link_type == "copy" or link_type == "reflink":
            done = False
            if link_type == "reflink":
                try:
                    _reflink(src, str(tmp))
                    done = True
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                        raise
                    tmp.unlink(missing_ok=True)
            if done:
                found, _ = hash_file(tmp, progress=progress)
            else:
                with open(tmp, "wb", buffering=0) as out:
                    found, _ = hash_file(src, sink=out.write, progress=progress)
            if found != digest:
                raise VerificationError(f"blob {digest} is corrupt (hash mismatch); not handed out")
            os.chmod(tmp, 0o644)
        else:
            found, _ = hash_file(src, progress=progress)
            if found != digest:
                raise VerificationError(f"blob {digest} is corrupt (hash mismatch); not handed out")
            if link_type == "hardlink":
                os.link(src, tmp)
            elif link_type == "symlink":
                os.symlink(os.path.abspath(src), tmp)
            else:  # pragma: no cover - validated in Settings
                raise StoreError(f"unknown link type {link_type!r}")
        os.replace(tmp, dst)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
