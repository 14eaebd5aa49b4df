"""Content-addressed blobs over fsspec.

Blobs are named by their BLAKE3 digest and sharded ``<root>/ab/cdef…``. Writes are atomic (a
temporary name, then a rename; an object store's PUT or completed multipart upload is atomic by
itself) and never overwrite an existing blob. Every read is verified against the digest; a blob
whose content no longer matches its name is removed (so the next ``log`` uploads it again) and
never handed out.

Local folders get a fast path that hashes and writes in one read of the source file; any other
fsspec URL (``s3://``, ``gs://``, ``memory://``) goes through fsspec, lazily importing the backend
and naming the extra to install when it is missing. Credentials and endpoints come from the
backend's own settings (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``STORAGE_EMULATOR_HOST``,
``GOOGLE_APPLICATION_CREDENTIALS``, ``FSSPEC_S3_*`` …) or from ``storage_options``.

Many small blobs move in parallel (:meth:`BlobStore.put_many`, :meth:`BlobStore.get_many`;
``ARTIFLOW_TRANSFER_CONCURRENCY`` requests at once, default 16); large ones are streamed in
8 MiB parts, never held whole in memory.

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
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from .exceptions import ArtiflowError, StoreError, VerificationError
from .hashing import hash_bytes, hash_file, hash_stream

__all__ = [
    "DEFAULT_CONCURRENCY",
    "QUARANTINE",
    "BlobStore",
    "copy_new_small",
    "corrupt_local",
    "link_or_copy",
    "set_aside_file",
]

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
SMALL_BLOB = _SMALL = 1024 * 1024  # up to this size a file is read whole, in one read
_PART = 8 * 1024 * 1024  # multipart/resumable chunk: bounds memory per transfer
_PARTS_AT_ONCE = 2  # parts of one file in flight: memory stays near 2 x 8 MiB per transfer
_HEAD_LIMIT = 64  # up to this many digests: one HEAD each; more: list the shards instead
DEFAULT_CONCURRENCY = 16
Progress = Callable[[int], object] | None
T = TypeVar("T")
R = TypeVar("R")


_WRITE_ATTEMPTS = 5


def _is_connection_error(exc: BaseException) -> bool:
    """A dropped, refused or timed-out connection (builtin, botocore or aiohttp flavour)."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names
        & {
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
    )


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """The fsspec file system and root path for ``url`` (listing cache off: the store is shared,
    other writers change it behind our back)."""
    import fsspec

    options = dict(storage_options)
    options.setdefault("use_listings_cache", False)
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        proto = url.split("://", 1)[0]
        extra = _EXTRAS.get(proto)
        hint = (
            f"pip install 'artiflow[{extra}]'"
            if extra
            else f"install the fsspec backend for {proto!r}"
        )
        raise StoreError(f"cannot open store {url!r}: {exc}. Install it with: {hint}") from exc
    except (ValueError, TypeError) as exc:
        raise StoreError(f"cannot open store {url!r}: {exc}") from exc
    return fs, root.rstrip("/")


def _concurrency(value: int | None) -> int:
    if value is None:
        raw = os.environ.get("ARTIFLOW_TRANSFER_CONCURRENCY", "")
        try:
            value = int(raw) if raw else DEFAULT_CONCURRENCY
        except ValueError:
            raise StoreError(
                f"ARTIFLOW_TRANSFER_CONCURRENCY={raw!r} is not a whole number; set it to e.g. 16"
            ) from None
    if value < 1:
        raise StoreError(f"transfer concurrency must be at least 1, not {value}")
    return value


def _callback(progress: Progress) -> Any:
    """An fsspec callback forwarding byte counts to ``progress``."""
    from fsspec.callbacks import Callback

    class _Forward(Callback):  # type: ignore[misc]
        def relative_update(self, inc: int = 1) -> None:
            if progress is not None and inc:
                progress(inc)

        def absolute_update(self, value: int) -> None:
            pass

    return _Forward()


def _mtime(info: dict[str, Any]) -> float:
    """When a listed blob was written; unknown counts as now, so gc's grace period holds."""
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


QUARANTINE = "quarantine"  # folder/prefix of blobs set aside as corrupt (gc and listings skip it)


def _stamp() -> str:
    """A UTC timestamp for quarantine names, unique within the process."""
    now = time.time()
    day = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{day}.{int(now % 1 * 1_000_000):06d}Z-{_PROCESS_TAG[:6]}{next(_TMP_COUNTER)}"


def _corrupt_message(digest: str, url: str, found: str | None, where: str | None) -> str:
    what = f"its content hashes to {found}" if found else "its content does not match its name"
    kept = (
        f"it was moved aside to {where!r} (nothing was deleted), so the next log of that "
        "content stores it again"
        if where
        else "the next log of that content stores it again once it is moved aside"
    )
    return (
        f"blob {digest} in {url!r} is corrupt ({what}) and was not handed out; {kept}. "
        "Re-log the artifact, or run `artiflow fsck` to repair it from another copy"
    )


def _missing_message(digest: str, url: str) -> str:
    return (
        f"blob {digest} is missing from store {url!r}: the store lost content the registry "
        "still references; re-log the artifact (the next log of that content stores it "
        "again), or run `artiflow fsck --from URL` to restore it from another copy"
    )


def set_aside_file(blob: str, digest: str) -> str | None:
    """Move the local blob file ``blob`` (``<root>/ab/cdef…``) to
    ``<root>/quarantine/<digest>.<UTC timestamp>``: one rename, nothing deleted. Returns the new
    path, or None when the blob is gone already (another reader moved it).

    Example:
        >>> import tempfile
        >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
        >>> set_aside_file(s.path(d), d).startswith(str(s.root / "quarantine"))
        True
    """
    folder = os.path.join(os.path.dirname(os.path.dirname(blob)), QUARANTINE)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{digest}.{_stamp()}")
    try:
        os.rename(blob, target)
    except FileNotFoundError:
        return None
    return target


def corrupt_local(blob: str, digest: str, store_url: str) -> ArtiflowError:
    """The error for the local blob file ``blob`` that did not hash to ``digest`` on a read.

    The blob is hashed a second time first: when it verifies now, the first read was a transient
    fault and nothing is changed (a :class:`StoreError` says to try again). Otherwise the very
    file that was hashed (same inode: a writer may have replaced it meanwhile) is moved aside
    into the store's ``quarantine/`` folder, so that the next log of that content stores it
    again (nothing is deleted), and a :class:`VerificationError` is returned.
    """
    try:
        before = os.stat(blob)
        found, _ = hash_file(blob)
        now = os.stat(blob)
    except FileNotFoundError:
        return StoreError(_missing_message(digest, store_url))
    except OSError as exc:
        return StoreError(f"cannot read blob {digest[:12]} from {store_url!r}: {exc}")
    if found == digest:
        return StoreError(
            f"reading blob {digest} from {store_url!r} returned wrong content once but it "
            "verifies now (a transient read fault); nothing was changed: try again"
        )
    where = None
    if (now.st_ino, now.st_dev) == (before.st_ino, before.st_dev):
        with contextlib.suppress(OSError):
            where = set_aside_file(blob, digest)
    return VerificationError(_corrupt_message(digest, store_url, found, where))


class BlobStore:
    """A content-addressed blob store at ``url`` (a local folder or any fsspec URL).

    ``max_concurrency`` bounds parallel requests of the bulk operations (default
    ``ARTIFLOW_TRANSFER_CONCURRENCY`` or 16; the GCS emulator wants 1).
    """

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.is_local = _is_local(url)
        self.max_concurrency = _concurrency(max_concurrency)
        if self.is_local:
            self.root = Path(url[len("file://") :] if url.startswith("file://") else url).absolute()
            self._root_s = str(self.root)
            self.fs: Any = None
            self._tmp = self.root / "tmp"
            self._made: set[str] = set()  # shard folders known to exist
            self.protocol = "file"
        else:
            self.fs, self._remote_root = _filesystem(url, self.storage_options)
            proto = self.fs.protocol
            self.protocol = proto if isinstance(proto, str) else proto[0]

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    # ---- naming -------------------------------------------------------------------------
    def path(self, digest: str) -> str:
        """Where the blob of ``digest`` lives (a local path or a URL path of the backend).

        Example:
            >>> BlobStore("/tmp/s").path("ab" * 32)[:12]
            '/tmp/s/ab/ab'
        """
        if self.is_local:
            return f"{self._root_s}/{digest[:2]}/{digest[2:]}"
        return f"{self._remote_root}/{digest[:2]}/{digest[2:]}"

    def _pool_map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1 or self.max_concurrency == 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # ---- queries ------------------------------------------------------------------------
    def _remote_exists(self, digest: str) -> bool:
        path = self.path(digest)
        try:
            if self.protocol in ("s3", "s3a"):
                bucket, key, _ = self.fs.split_path(path)
                self.fs.call_s3("head_object", Bucket=bucket, Key=key)  # one request, no LIST
                return True
            return bool(self.fs.exists(path))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot reach store {self.url!r}: {exc}") from exc

    def exists(self, digest: str) -> bool:
        """True when the blob is stored.

        Example:
            >>> import tempfile
            >>> BlobStore(tempfile.mkdtemp()).exists("ab" * 32)
            False
        """
        if self.is_local:
            return os.path.exists(self.path(digest))
        return self._remote_exists(digest)

    def missing(self, digests: Iterable[str], sizes: Mapping[str, int] | None = None) -> set[str]:
        """The subset of ``digests`` that is not stored (checked in parallel on object stores:
        one HEAD per digest for a few, one listing per shard for many).

        ``sizes`` (digest -> expected size) makes a local store also count a blob of the wrong
        size as missing (truncated, appended to, emptied) and sets it aside (:meth:`_present`):
        the stat that sees the blob gives its size for free.
        Object stores write whole objects (a PUT, a completed multipart upload) and are checked
        for presence only.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.missing([d, "00" * 32]) == {"00" * 32}
            True
        """
        wanted = set(digests)
        if self.is_local:
            known = sizes or {}
            return {
                d
                for d in wanted
                if not (self._present(d, known[d]) if d in known else os.path.exists(self.path(d)))
            }
        if not wanted:
            return set()
        if len(wanted) <= _HEAD_LIMIT:
            order = sorted(wanted)
            found = self._pool_map(self._remote_exists, order)
            return {d for d, ok in zip(order, found, strict=True) if not ok}

        def shard(prefix: str) -> set[str]:
            try:
                names = self.fs.ls(f"{self._remote_root}/{prefix}", detail=False)
            except FileNotFoundError:
                return set()
            except OSError as exc:
                raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
            return {prefix + n.rstrip("/").rsplit("/", 1)[-1] for n in names}

        # one listing of the root first: only shards that exist are listed (a new or small
        # store has few, and 500 new blobs no longer cost 256 listings)
        try:
            top = self.fs.ls(self._remote_root, detail=False)
        except FileNotFoundError:
            return wanted
        except OSError as exc:
            raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
        shards = {n.rstrip("/").rsplit("/", 1)[-1] for n in top}
        present: set[str] = set()
        for names in self._pool_map(shard, sorted({d[:2] for d in wanted} & shards)):
            present |= names
        return wanted - present

    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        """Yield ``(digest, modified_time)`` for every blob in the store.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> [b for b, _ in s.iter_blobs()] == [d]
            True
        """
        for digest, mtime, _size in self.iter_blob_info():
            yield digest, mtime

    def iter_blob_info(self) -> Iterator[tuple[str, float, int]]:
        """Yield ``(digest, modified_time, size)`` for every blob, from one listing (local: one
        ``scandir`` per shard; object stores: one recursive listing).

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"xyz")
            >>> [(b == d, size) for b, _, size in s.iter_blob_info()]
            [(True, 3)]
        """
        if self.is_local:
            if not self.root.exists():
                return
            for shard in os.scandir(self.root):
                if len(shard.name) != 2 or not shard.is_dir():
                    continue
                for blob in os.scandir(shard.path):
                    if len(shard.name + blob.name) != 64:
                        continue
                    try:
                        if not blob.is_file():
                            continue
                        st = blob.stat()
                    except FileNotFoundError:  # deleted since the listing
                        continue
                    yield shard.name + blob.name, st.st_mtime, st.st_size
            return
        try:
            listing = self.fs.find(self._remote_root, detail=True)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
        root = self.fs._strip_protocol(self._remote_root).rstrip("/")
        for path, info in listing.items():
            rel = self.fs._strip_protocol(path)[len(root) :].strip("/").split("/")
            if len(rel) != 2 or len(rel[0]) != 2 or len(rel[0] + rel[1]) != 64:
                continue
            yield rel[0] + rel[1], _mtime(info), int(info.get("size") or 0)

    # ---- writing ------------------------------------------------------------------------
    def _tmp_path(self) -> Path:
        return Path(self._tmp_name())

    def _tmp_name(self) -> str:
        """A new name in the store's tmp folder, unique across processes and machines sharing
        the folder (a random tag per process) without a getrandom() per file."""
        if "tmp" not in self._made:
            try:
                self._tmp.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._write_error(exc, "a temporary file") from exc
            self._made.add("tmp")
        return f"{self._root_s}/tmp/{_PROCESS_TAG}-{os.getpid()}-{next(_TMP_COUNTER)}"

    def _touch(self, digest: str) -> None:
        """Mark a re-used local blob as fresh, so gc's grace period covers the version that is
        about to use it."""
        with contextlib.suppress(OSError):
            os.utime(self.path(digest))

    def _install(self, tmp: Path | str, digest: str) -> None:
        final = self.path(digest)
        if os.path.exists(final):
            os.unlink(tmp)
            self._touch(digest)
            return
        shard = digest[:2]
        try:
            if shard not in self._made:
                os.makedirs(f"{self._root_s}/{shard}", exist_ok=True)
                self._made.add(shard)
            os.chmod(tmp, 0o444)  # blobs are read-only: hardlinked checkouts cannot corrupt them
            os.replace(tmp, final)
        except OSError as exc:
            raise self._write_error(exc, f"blob {digest[:12]}") from exc

    def _write_new(self, data: bytes | memoryview, digest: str) -> None:
        """Write a small blob atomically (temporary name, then rename). On any failure (a full
        disk included) the temporary file is removed again: nothing is left behind."""
        try:
            tmp = self._tmp_name()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except OSError as exc:
            raise self._write_error(exc, f"blob {digest[:12]}") from exc
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            shard = digest[:2]
            if shard not in self._made:
                os.makedirs(f"{self._root_s}/{shard}", exist_ok=True)
                self._made.add(shard)
            os.replace(tmp, self.path(digest))
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(exc, OSError) and not isinstance(exc, StoreError):
                raise self._write_error(exc, f"blob {digest[:12]}") from exc
            raise

    def _write_error(self, exc: OSError, what: str) -> StoreError:
        """The :class:`StoreError` for a failed local write; a full disk (``ENOSPC``, or the
        quota: ``EDQUOT``) says so and what to do."""
        if isinstance(exc, StoreError):
            return exc
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreError(
                f"cannot store {what} in {self.url!r}: the disk that holds the store is full "
                f"({exc.strerror}); nothing was logged. Free space there (`artiflow gc` removes "
                "blobs no version needs and leftover temporary files), then log again"
            )
        return StoreError(f"cannot store {what} in {self.url!r}: {exc}")

    def _present(self, digest: str, size: int) -> bool:
        """True when the blob is stored; a local blob of the wrong size counts as absent and is
        moved aside into ``quarantine/`` (damaged: truncated, appended to, emptied), so the
        writer asking stores the content again."""
        if not self.is_local:
            return self._remote_exists(digest)
        path = self.path(digest)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        if st.st_size == size:
            return True
        with contextlib.suppress(OSError):
            set_aside_file(path, digest)
        return False

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest.

        Example:
            >>> import tempfile
            >>> BlobStore(tempfile.mkdtemp()).put_bytes(b"")[:8]
            'af1349b9'
        """
        digest = hash_bytes(data)
        if self._present(digest, len(data)):
            return digest
        if self.is_local:
            self._write_new(data, digest)
        else:
            self._remote_write(digest, lambda: self.fs.pipe_file(self.path(digest), data))
        return digest

    def put_small(self, local_path: str, before: os.stat_result) -> tuple[str, int, bool] | None:
        """Store a small local file (``before`` is its stat, size at most 1 MiB) in a local store
        with one open and one read. Returns ``(digest, size, unchanged)``, where ``unchanged``
        says the file still had the stat ``before`` once read (so a stat cache may record it), or
        None when the file is not small any more (use :meth:`put_file`).

        Example:
            >>> import tempfile, os
            >>> d = tempfile.mkdtemp(); p = os.path.join(d, "f")
            >>> _ = open(p, "wb").write(b"abc")
            >>> BlobStore(os.path.join(d, "store")).put_small(p, os.stat(p))[1:]
            (3, True)
        """
        assert self.is_local
        want = before.st_size
        fd = os.open(local_path, os.O_RDONLY)
        try:
            data = os.read(fd, want + 1)  # one byte more than expected: growth shows at once
            after = os.fstat(fd)
            if len(data) != want or after.st_size != want:  # changing under us: read it all
                while len(data) <= _SMALL and (more := os.read(fd, _SMALL + 1 - len(data))):
                    data += more
                if len(data) > _SMALL:
                    return None
        finally:
            os.close(fd)
        unchanged = (
            len(data) == want
            and after.st_size == want
            and after.st_mtime_ns == before.st_mtime_ns
            and after.st_ino == before.st_ino
        )
        digest = hash_bytes(data)
        if self._present(digest, len(data)):  # a damaged blob (wrong size) is set aside
            self._touch(digest)
        else:
            self._write_new(data, digest)
        return digest, len(data), unchanged

    def put_file(
        self,
        local_path: str | os.PathLike[str],
        *,
        digest: str | None = None,
        progress: Progress = None,
    ) -> tuple[str, int]:
        """Store a local file, hashing it in the same read. Returns ``(digest, size)``.

        When ``digest`` is given (from the stat cache) and the blob exists, nothing is read.
        Object stores get the file streamed in parts (never whole in memory).

        Example:
            >>> import tempfile, os
            >>> d = tempfile.mkdtemp(); p = os.path.join(d, "f")
            >>> _ = open(p, "wb").write(b"abc")
            >>> BlobStore(os.path.join(d, "store")).put_file(p)[1]
            3
        """
        if digest is not None and self._present(digest, os.stat(local_path).st_size):
            if self.is_local:
                self._touch(digest)
            size = os.stat(local_path).st_size
            if progress is not None:
                progress(size)
            return digest, size
        if not self.is_local:
            return self._put_remote(local_path, digest=digest, progress=progress)
        try:
            st = os.stat(local_path)
            small = self.put_small(os.fspath(local_path), st) if st.st_size <= _SMALL else None
            if small is not None:
                if progress is not None:
                    progress(small[1])
                return small[0], small[1]
            tmp = self._tmp_path()
            try:
                with open(tmp, "wb", buffering=0) as out:
                    found, size = hash_file(local_path, sink=out.write, progress=progress)
                self._present(found, size)  # sets a damaged blob aside, so _install stores it
                self._install(tmp, found)
            finally:
                tmp.unlink(missing_ok=True)
            return found, size
        except (FileNotFoundError, StoreError):
            raise
        except OSError as exc:
            raise self._write_error(exc, repr(os.fspath(local_path))) from exc

    def _remote_write(self, digest: str, write: Callable[[], object]) -> None:
        """Run one upload, retried (up to :data:`_WRITE_ATTEMPTS` times, with backoff) when the
        connection drops or times out: an upload under a content address is idempotent, and a
        PUT or multipart upload is only visible once complete, so a cut one leaves nothing."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                write()
                return
            except (FileNotFoundError, PermissionError) as exc:
                raise StoreError(f"cannot write blob {digest[:12]} to {self.url!r}: {exc}") from exc
            except Exception as exc:
                if not _is_connection_error(exc) or attempt == _WRITE_ATTEMPTS - 1:
                    if not isinstance(exc, OSError) and not _is_connection_error(exc):
                        raise
                    raise StoreError(
                        f"cannot write blob {digest[:12]} to {self.url!r} "
                        f"(tried {attempt + 1} times): {exc}; nothing was logged, log it again"
                    ) from exc
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def _upload(self, local_path: str | os.PathLike[str], digest: str, progress: Progress) -> None:
        kwargs: dict[str, Any] = {}
        if self.protocol in ("s3", "s3a", "gs", "gcs"):
            kwargs["chunksize"] = _PART  # multipart above 2 parts: bounded memory
        if self.protocol in ("s3", "s3a"):
            kwargs["max_concurrency"] = _PARTS_AT_ONCE  # s3fs reads this many parts ahead
        sent = [0]
        if progress is not None:

            def count(n: int) -> None:
                sent[0] += n
                progress(n)

            kwargs["callback"] = _callback(count)
        # a PUT, or a multipart upload that is only completed at the end: readers see the
        # whole blob or none, also when this process is killed half-way
        self._remote_write(
            digest, lambda: self.fs.put_file(os.fspath(local_path), self.path(digest), **kwargs)
        )
        if progress is not None:  # some backends report nothing for single-request uploads
            rest = os.stat(local_path).st_size - sent[0]
            if rest > 0:
                progress(rest)

    def _put_remote(
        self, local_path: str | os.PathLike[str], *, digest: str | None, progress: Progress
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

    def put_many(
        self,
        items: Sequence[tuple[str, str]],
        *,
        progress: Progress = None,
        batch_size: int | None = None,
        unchanged_since: Mapping[str, os.stat_result] | None = None,
    ) -> int:
        """Store many ``(local_path, digest)`` pairs whose digests are known, ``batch_size``
        (default :attr:`max_concurrency`) at a time. Blobs already stored are skipped (one bulk
        :meth:`missing` check). Returns how many blobs were uploaded.

        A file modified since its ``unchanged_since`` stat (taken before it was hashed), or
        during its upload, would be stored under a wrong name: its blob is removed again and
        :class:`StoreError` raised.

        Example:
            >>> import tempfile, os
            >>> from artiflow.hashing import hash_file
            >>> d = tempfile.mkdtemp(); p = os.path.join(d, "f")
            >>> _ = open(p, "wb").write(b"abc")
            >>> s = BlobStore(os.path.join(d, "store"))
            >>> s.put_many([(p, hash_file(p)[0])]), s.put_many([(p, hash_file(p)[0])])
            (1, 0)
        """
        if not items:
            return 0
        missing = self.missing(d for _, d in items)
        unique: dict[str, str] = {}
        for p, d in items:
            if d in missing and d not in unique:
                unique[d] = p
            elif progress is not None:
                progress(os.stat(p).st_size)
        todo = [(p, d) for d, p in unique.items()]
        workers = batch_size or self.max_concurrency

        def one(pd: tuple[str, str]) -> None:
            p, d = pd
            if self.is_local:
                found, _ = self.put_file(p, progress=progress)
                if found != d:
                    raise StoreError(
                        f"file {p!r} changed while it was being stored (expected {d[:12]}, "
                        f"read {found[:12]}); log it again"
                    )
            else:
                before = (unchanged_since or {}).get(p) or os.stat(p)
                self._upload(p, d, progress)
                after = os.stat(p)
                if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                    self.delete(d)
                    raise StoreError(
                        f"file {p!r} changed while it was being stored; nothing was logged, "
                        "log it again once it is complete"
                    )

        if len(todo) <= 1 or workers == 1:
            for pd in todo:
                one(pd)
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                list(pool.map(one, todo))
        return len(todo)

    # ---- reading ------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading (unverified; prefer :meth:`get_file` / :meth:`read_bytes`).

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp())
            >>> with s.open(s.put_bytes(b"hi")) as fh: fh.read()
            b'hi'
        """
        try:
            if self.is_local:
                return open(self.path(digest), "rb")
            return self.fs.open(self.path(digest), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise StoreError(_missing_message(digest, self.url)) from exc
        except OSError as exc:
            raise StoreError(f"cannot read blob {digest[:12]} from {self.url!r}: {exc}") from exc

    def hash_blob(self, digest: str, *, progress: Progress = None) -> tuple[str, int] | None:
        """``(digest, size)`` of what the store holds under ``digest`` (read and hashed whole,
        streamed), or None when nothing is there.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.hash_blob(d) == (d, 1), s.hash_blob("00" * 32)
            (True, None)
        """
        try:
            if self.is_local:
                return hash_file(self.path(digest), progress=progress)
            with self.fs.open(self.path(digest), "rb", block_size=_PART) as fh:
                return hash_stream(fh, progress=progress)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read blob {digest[:12]} from {self.url!r}: {exc}") from exc

    def quarantine(self, digest: str) -> str | None:
        """Move the blob aside to ``<store>/quarantine/<digest>.<UTC timestamp>`` and return
        where it went (None when nothing was there). Nothing is deleted: a local store renames
        the file; an object store copies the object and removes the original only once the copy
        exists. The blob then counts as missing, so the next log of that content stores it
        again. Listings and gc never look into ``quarantine/``; remove it by hand once inspected.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.quarantine(d) is not None, s.exists(d)
            (True, False)
        """
        if self.is_local:
            return set_aside_file(self.path(digest), digest)
        target = f"{self._remote_root}/{QUARANTINE}/{digest}.{_stamp()}"
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
        """The blobs set aside by :meth:`quarantine`: digest -> paths of the copies.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x"); _ = s.quarantine(d)
            >>> list(s.quarantined()) == [d]
            True
        """
        out: dict[str, list[str]] = {}
        if self.is_local:
            folder = self.root / QUARANTINE
            try:
                names = sorted(os.listdir(folder))
            except FileNotFoundError:
                return out
            for name in names:
                out.setdefault(name.split(".", 1)[0], []).append(str(folder / name))
            return out
        try:
            paths = sorted(self.fs.find(f"{self._remote_root}/{QUARANTINE}"))
        except FileNotFoundError:
            return out
        except OSError as exc:
            raise StoreError(f"cannot list store {self.url!r}: {exc}") from exc
        for path in paths:
            name = path.rstrip("/").rsplit("/", 1)[-1]
            out.setdefault(name.split(".", 1)[0], []).append(path)
        return out

    def _corrupt(self, digest: str, found: str) -> ArtiflowError:
        """The error for a blob that hashed to ``found`` on a read. Never a delete: the blob is
        hashed again first (a transient fault that garbled one read changes nothing and says to
        try again); a blob that is still wrong is moved aside (:meth:`quarantine`), so the next
        log of that content stores it again and no other reader gets it."""
        if self.is_local:
            return corrupt_local(self.path(digest), digest, self.url)
        try:
            again = self.hash_blob(digest)
        except StoreError as exc:
            return exc
        if again is None:
            return StoreError(_missing_message(digest, self.url))
        if again[0] == digest:
            return StoreError(
                f"reading blob {digest} from {self.url!r} returned wrong content once but it "
                "verifies now (a transient read fault); nothing was changed: try again"
            )
        where: str | None = None
        with contextlib.suppress(StoreError):
            where = self.quarantine(digest)
        return VerificationError(_corrupt_message(digest, self.url, again[0], where))

    def read_bytes(self, digest: str) -> bytes:
        """The verified content of a blob.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); s.read_bytes(s.put_bytes(b"x"))
            b'x'
        """
        with self.open(digest) as fh:
            data = fh.read()
        found = hash_bytes(data)
        if found != digest:
            raise self._corrupt(digest, found)
        return data

    def get_file(
        self, digest: str, dest: str | os.PathLike[str], *, progress: Progress = None
    ) -> None:
        """Write the blob to ``dest`` atomically, verifying its hash on the way (streamed).

        A corrupt blob raises :class:`VerificationError` and leaves ``dest`` untouched.

        Example:
            >>> import tempfile, os
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> out = os.path.join(tempfile.mkdtemp(), "x"); s.get_file(d, out)
            >>> open(out, "rb").read()
            b'x'
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.artiflow-{uuid.uuid4().hex[:8]}"
        try:
            if self.is_local:
                with self.open(digest) as src, open(tmp, "wb") as out:
                    found, _ = hash_stream(src, sink=out.write, progress=progress)
            else:
                kwargs: dict[str, Any] = {}
                if progress is not None:
                    kwargs["callback"] = _callback(progress)
                if self.protocol in ("s3", "s3a"):  # not 10 x 50 MiB parts held at once
                    kwargs.update(max_concurrency=1)  # one streamed GET
                try:
                    self.fs.get_file(self.path(digest), str(tmp), **kwargs)
                except FileNotFoundError as exc:
                    raise StoreError(_missing_message(digest, self.url)) from exc
                except OSError as exc:
                    raise StoreError(
                        f"cannot read blob {digest[:12]} from {self.url!r}: {exc}"
                    ) from exc
                found, _ = hash_file(tmp)
            if found != digest:
                raise self._corrupt(digest, found)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def get_many(
        self, digests: Iterable[str], into: BlobStore, *, progress: Progress = None
    ) -> int:
        """Copy the blobs ``digests`` that the local store ``into`` lacks (a download cache)
        from this store, in parallel, each verified before it becomes visible in ``into``.
        Returns how many were fetched.

        Example:
            >>> import tempfile
            >>> remote = BlobStore("memory://artiflow-doc"); d = remote.put_bytes(b"x")
            >>> cache = BlobStore(tempfile.mkdtemp())
            >>> remote.get_many([d], cache), cache.exists(d)
            (1, True)
        """
        if not into.is_local:
            raise StoreError(f"get_many copies into a local folder, not {into.url!r}")
        todo = sorted(into.missing(digests))

        def one(digest: str) -> None:
            tmp = into._tmp_path()
            try:
                self.get_file(digest, tmp, progress=progress)
                into._install(tmp, digest)
            finally:
                tmp.unlink(missing_ok=True)

        self._pool_map(one, todo)
        return len(todo)

    def delete(self, digest: str) -> None:
        """Remove a blob (missing blobs are ignored).

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x"); s.delete(d)
            >>> s.exists(d)
            False
        """
        if self.is_local:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(digest))
            return
        try:
            self.fs.rm_file(self.path(digest))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot delete blob {digest[:12]} from {self.url!r}: {exc}") from exc

    def delete_many(self, digests: Sequence[str]) -> None:
        """Remove many blobs (missing ones are ignored): S3 in bulk requests of 1,000 keys,
        other object stores in parallel, local folders one ``unlink`` each.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x"); s.delete_many([d])
            >>> s.exists(d)
            False
        """
        if self.is_local:
            for d in digests:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(d))
            return
        if self.protocol not in ("s3", "s3a"):
            self._pool_map(self.delete, list(digests))
            return
        for start in range(0, len(digests), 1000):
            chunk = digests[start : start + 1000]
            keys = [self.fs.split_path(self.path(d)) for d in chunk]
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
        """Remove what killed writers left: temporary files of a local store, unfinished
        multipart uploads (invisible, but stored and billed) of an S3 store. Returns how many
        were removed.

        Example:
            >>> import tempfile
            >>> BlobStore(tempfile.mkdtemp()).clean_tmp()
            0
        """
        if not self.is_local:
            return self._abort_stale_uploads(older_than) if self.protocol in ("s3", "s3a") else 0
        if not self._tmp.exists():
            return 0
        now = time.time()
        cutoff = now - older_than
        removed = 0
        for entry in os.scandir(self._tmp):
            with contextlib.suppress(FileNotFoundError):
                mtime = entry.stat().st_mtime
                if mtime > cutoff:
                    continue
                # a temp file of a process still running here is an upload in flight (a gc with
                # a short grace must not pull it from under its writer) until it is an hour old
                if now - mtime < _TMP_MAX_AGE and _owner_alive(entry.name):
                    continue
                os.unlink(entry.path)
                removed += 1
        return removed

    def _abort_stale_uploads(self, older_than: float) -> int:
        bucket, key, _ = self.fs.split_path(self._remote_root)
        prefix = f"{key}/" if key else ""
        cutoff = time.time() - older_than
        removed = 0
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        try:
            while True:
                page = self.fs.call_s3("list_multipart_uploads", **kwargs)
                for up in page.get("Uploads", []):
                    if _mtime({"LastModified": up.get("Initiated")}) <= cutoff:
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
            return removed  # not allowed to list uploads: a bucket lifecycle rule must do it


def _reflink(src: str, dst: str) -> None:
    import fcntl

    FICLONE = 0x40049409
    with open(src, "rb") as s, open(dst, "wb") as d:
        fcntl.ioctl(d.fileno(), FICLONE, s.fileno())


_TMP_COUNTER = itertools.count()
_TMP_MAX_AGE = 3600.0


def _owner_alive(name: str) -> bool:
    """Whether the temp file ``name`` (``<tag>-<pid>-<n>``) belongs to a process running on
    this machine (a reused pid only keeps the file longer, never removes a live one)."""
    parts = name.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


_PROCESS_TAG = uuid.uuid4().hex[:12]


def _beside(dst: str) -> str:
    # unique per process and thread without a getrandom() per file
    head, tail = os.path.split(dst)
    return os.path.join(
        head, f".{tail}.artiflow-{os.getpid()}-{threading.get_ident()}-{next(_TMP_COUNTER)}"
    )


def copy_new_small(
    jobs: Sequence[tuple[str, str, str, int | None]], store_url: str, progress: Progress = None
) -> None:
    """Copy small local blobs to new files: ``jobs`` of ``(blob path, destination, digest,
    size)``, each destination in a folder that exists and private to the caller (it is renamed
    into place as a whole, see ``Registry._materialize_new``), each blob verified before its
    file is written. The per-file cost of :func:`link_or_copy`'s small-file path without its
    per-file options: 10,000 files of 10 KiB take about 0.2 s.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); s = BlobStore(os.path.join(d, "s")); h = s.put_bytes(b"hi")
        >>> copy_new_small([(s.path(h), os.path.join(d, "out"), h, 2)], s.url)
        >>> open(os.path.join(d, "out")).read()
        'hi'
    """
    o_read, o_new = os.O_RDONLY, os.O_WRONLY | os.O_CREAT | os.O_EXCL
    open_, read, write, close = os.open, os.read, os.write, os.close
    hasher = hash_bytes
    for src, dst, digest, size in jobs:
        try:
            fd = open_(src, o_read)
        except FileNotFoundError:
            raise StoreError(
                f"blob {digest} is missing from store {store_url!r}: the store lost content the "
                "registry references; restore it or re-log the artifact"
            ) from None
        try:
            data = read(fd, (size or 0) + 1)  # one byte more: a longer blob must not pass
        finally:
            close(fd)
        if hasher(data) != digest:  # moved aside (never deleted) so that a re-log repairs it
            raise corrupt_local(src, digest, store_url)
        fd = open_(dst, o_new, 0o644)
        try:
            done = write(fd, data)
            while done < len(data):
                done += write(fd, data[done:])
        finally:
            close(fd)
        if progress is not None:
            progress(len(data))


def link_or_copy(
    src: str,
    dst: str | os.PathLike[str],
    link_type: str,
    digest: str,
    progress: Progress = None,
    *,
    size: int | None = None,
    parent_exists: bool = False,
    direct: bool = False,
) -> None:
    """Materialise the verified local blob ``src`` at ``dst`` by ``link_type``.

    ``copy`` hashes while copying; the link types hash the blob once before linking, so every
    file handed out is verified. ``reflink`` falls back to a copy where the file system has none.
    Small blobs (``size`` known, up to 1 MiB) are copied with one read and one write.

    The file is written beside ``dst`` and renamed into place, so nobody sees it half-written;
    ``direct=True`` writes ``dst`` itself (it must not exist), for a private folder that is
    renamed into place as a whole once every file is in it.
    """
    dst = os.fspath(dst)
    if not parent_exists:
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    tmp = dst if direct else _beside(dst)
    if link_type == "copy" and size is not None and size <= _SMALL:
        fd = os.open(src, os.O_RDONLY)
        try:
            data = os.read(fd, size + 1)  # one byte more: a longer blob must not pass
        finally:
            os.close(fd)
        if hash_bytes(data) != digest:
            raise corrupt_local(src, digest, os.path.dirname(os.path.dirname(src)))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            if not direct:
                os.replace(tmp, dst)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if progress is not None:
            progress(len(data))
        return
    try:
        if link_type == "copy" or link_type == "reflink":
            done = False
            if link_type == "reflink":
                try:
                    _reflink(src, tmp)
                    done = True
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                        raise
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
            if done:
                found, _ = hash_file(tmp, progress=progress)
            else:
                with open(tmp, "xb", buffering=0) as out:
                    found, _ = hash_file(src, sink=out.write, progress=progress)
            if found != digest:
                raise corrupt_local(src, digest, os.path.dirname(os.path.dirname(src)))
            os.chmod(tmp, 0o644)
        else:
            found, _ = hash_file(src, progress=progress)
            if found != digest:
                raise corrupt_local(src, digest, os.path.dirname(os.path.dirname(src)))
            if link_type == "hardlink":
                os.link(src, tmp)
            elif link_type == "symlink":
                os.symlink(os.path.abspath(src), tmp)
            else:  # pragma: no cover - validated in Settings
                raise StoreError(f"unknown link type {link_type!r}")
        if not direct:
            os.replace(tmp, dst)
        tmp = ""  # handed out: nothing to clean up
    finally:
        if tmp and os.path.lexists(tmp):
            os.unlink(tmp)
