"""What every blob store shares: naming, the factory that picks a backend by URL, verified reads
(a blob whose content does not match its name is never handed out and is set aside), bulk
transfers in parallel, and the messages the errors carry.

A backend implements presence checks, listing, writing, reading and setting aside
(:class:`~artiflow.store.local.LocalBlobStore` for a folder,
:class:`~artiflow.store.remote.RemoteBlobStore` for any fsspec URL,
:class:`~artiflow.store.s3.S3BlobStore` for ``s3://``).

Example:
    >>> import tempfile
    >>> store = BlobStore(tempfile.mkdtemp())
    >>> type(store).__name__, store.read_bytes(store.put_bytes(b"hi"))
    ('LocalBlobStore', b'hi')
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from ..exceptions import ArtiflowError, StoreError, VerificationError
from ..hashing import hash_bytes
from .fs import is_local_url

__all__ = [
    "DEFAULT_CONCURRENCY",
    "QUARANTINE",
    "SMALL_BLOB",
    "BlobStore",
    "Progress",
    "backend_for",
    "corrupt_message",
    "missing_message",
    "open_store",
    "quarantine_name",
    "temp_name",
    "transfer_concurrency",
]

SMALL_BLOB = 1024 * 1024  # up to this size a file is read whole, in one read
PART = 8 * 1024 * 1024  # multipart/resumable chunk: bounds memory per transfer
DEFAULT_CONCURRENCY = 16
QUARANTINE = "quarantine"  # folder/prefix of blobs set aside as corrupt (gc and listings skip it)
Progress = Callable[[int], object] | None
T = TypeVar("T")
R = TypeVar("R")

PROCESS_TAG = uuid.uuid4().hex[:12]  # unique per process: temp and quarantine names never clash
_COUNTER = itertools.count()


def temp_name() -> str:
    """``<process tag>-<pid>-<n>``: a file name unique across processes and machines sharing a
    folder, without a getrandom() per file (``clean_tmp`` reads the pid back)."""
    return f"{PROCESS_TAG}-{os.getpid()}-{next(_COUNTER)}"


def next_number() -> int:
    """A number unique within the process (for temporary names beside a destination)."""
    return next(_COUNTER)


def quarantine_name(digest: str) -> str:
    """``<digest>.<UTC timestamp>``: the name of a blob set aside, unique within the process.

    Example:
        >>> quarantine_name("ab" * 32).startswith("ab" * 32 + ".")
        True
    """
    now = time.time()
    day = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{digest}.{day}.{int(now % 1 * 1_000_000):06d}Z-{PROCESS_TAG[:6]}{next(_COUNTER)}"


def transfer_concurrency(value: int | None) -> int:
    """``value``, or ``ARTIFLOW_TRANSFER_CONCURRENCY``, or 16: parallel requests of bulk calls.

    Example:
        >>> transfer_concurrency(4)
        4
    """
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


def corrupt_message(digest: str, url: str, found: str | None, where: str | None) -> str:
    """The text of the :class:`VerificationError` for a blob that did not verify on a read."""
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


def missing_message(digest: str, url: str) -> str:
    """The text of the :class:`StoreError` for a blob the registry references but the store lost."""
    return (
        f"blob {digest} is missing from store {url!r}: the store lost content the registry "
        "still references; re-log the artifact (the next log of that content stores it "
        "again), or run `artiflow fsck --from URL` to restore it from another copy"
    )


def transient_message(digest: str, url: str) -> str:
    """The text of the :class:`StoreError` for a read that was wrong once and verifies now."""
    return (
        f"reading blob {digest} from {url!r} returned wrong content once but it "
        "verifies now (a transient read fault); nothing was changed: try again"
    )


def read_error(digest: str, url: str, exc: OSError) -> StoreError:
    """The :class:`StoreError` for a failed read of a blob (a missing one says so)."""
    if isinstance(exc, FileNotFoundError):
        return StoreError(missing_message(digest, url))
    return StoreError(f"cannot read blob {digest[:12]} from {url!r}: {exc}")


def open_store(
    url: str,
    storage_options: Mapping[str, Any] | None = None,
    *,
    max_concurrency: int | None = None,
) -> BlobStore:
    """The blob store for ``url``: a local folder, ``s3://``, or any other fsspec URL.

    ``BlobStore(url)`` does the same (the base class picks its backend).

    Example:
        >>> type(open_store("memory://artiflow-open-doc")).__name__
        'RemoteBlobStore'
    """
    return backend_for(url)(url, storage_options, max_concurrency=max_concurrency)


def backend_for(url: str) -> type[BlobStore]:
    """The store class for ``url`` (nothing is opened).

    Example:
        >>> backend_for("/tmp/x").__name__, backend_for("s3://b").__name__
        ('LocalBlobStore', 'S3BlobStore')
    """
    from .local import LocalBlobStore
    from .remote import RemoteBlobStore
    from .s3 import S3BlobStore

    if is_local_url(url):
        return LocalBlobStore
    if url.split("://", 1)[0].lower() in S3BlobStore.protocols:
        return S3BlobStore
    return RemoteBlobStore


class BlobStore:
    """A content-addressed blob store at ``url`` (a local folder or any fsspec URL).

    ``BlobStore(url)`` returns the backend for the URL (see :func:`open_store`).
    ``max_concurrency`` bounds parallel requests of the bulk operations (default
    ``ARTIFLOW_TRANSFER_CONCURRENCY`` or 16; the GCS emulator wants 1).

    Example:
        >>> import tempfile
        >>> isinstance(BlobStore(tempfile.mkdtemp()), BlobStore)
        True
    """

    is_local: bool = False
    protocol: str = ""
    fs: Any = None
    if TYPE_CHECKING:  # local folders only (registry and _ops look at the flag first)
        root: Path

    def __new__(cls, *args: Any, **kwargs: Any) -> BlobStore:
        if cls is not BlobStore:
            return super().__new__(cls)
        url = args[0] if args else kwargs["url"]
        return super().__new__(backend_for(url))

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.max_concurrency = transfer_concurrency(max_concurrency)
        self.root_path = self._open_root()

    def _open_root(self) -> str:
        """Open the backend; return the root path blob paths start with."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    # ---- naming -------------------------------------------------------------------------
    def path(self, digest: str) -> str:
        """Where the blob of ``digest`` lives (a local path or a URL path of the backend).

        Example:
            >>> BlobStore("/tmp/s").path("ab" * 32)[:12]
            '/tmp/s/ab/ab'
        """
        return f"{self.root_path}/{digest[:2]}/{digest[2:]}"

    def _pool_map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1 or self.max_concurrency == 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # ---- queries ------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        """True when the blob is stored."""
        raise NotImplementedError

    def missing(self, digests: Iterable[str], sizes: Mapping[str, int] | None = None) -> set[str]:
        """The subset of ``digests`` that is not stored (``sizes``: digest -> expected size,
        see the backend for what a wrong size means)."""
        raise NotImplementedError

    def iter_blob_info(self) -> Iterator[tuple[str, float, int]]:
        """Yield ``(digest, modified_time, size)`` for every blob, from one listing."""
        raise NotImplementedError

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

    # ---- writing ------------------------------------------------------------------------
    def _present(self, digest: str, size: int) -> bool:
        """True when the blob is stored (a backend may also check its size)."""
        return self.exists(digest)

    def _touch(self, digest: str) -> None:
        """Mark a re-used blob as fresh for gc's grace period (where the backend can)."""

    def _write_bytes(self, data: bytes, digest: str) -> None:
        """Store ``data`` (not stored yet) under ``digest``, atomically."""
        raise NotImplementedError

    def _put_new(
        self, local_path: str | os.PathLike[str], digest: str | None, progress: Progress
    ) -> tuple[str, int]:
        """Store a local file whose blob is not known to be stored: ``(digest, size)``."""
        raise NotImplementedError

    def _put_known(
        self, path: str, digest: str, progress: Progress, before: os.stat_result | None
    ) -> None:
        """Store the file ``path`` whose digest is known to be ``digest`` (not stored yet);
        raise :class:`StoreError` (and leave nothing) when it changed meanwhile."""
        raise NotImplementedError

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest.

        Example:
            >>> import tempfile
            >>> BlobStore(tempfile.mkdtemp()).put_bytes(b"")[:8]
            'af1349b9'
        """
        digest = hash_bytes(data)
        if not self._present(digest, len(data)):
            self._write_bytes(data, digest)
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
        Object stores get the file streamed in parts (never whole in memory).

        Example:
            >>> import tempfile, os
            >>> d = tempfile.mkdtemp(); p = os.path.join(d, "f")
            >>> _ = open(p, "wb").write(b"abc")
            >>> BlobStore(os.path.join(d, "store")).put_file(p)[1]
            3
        """
        if digest is not None and self._present(digest, os.stat(local_path).st_size):
            self._touch(digest)
            size = os.stat(local_path).st_size
            if progress is not None:
                progress(size)
            return digest, size
        return self._put_new(local_path, digest, progress)

    def put_small(self, local_path: str, before: os.stat_result) -> tuple[str, int, bool] | None:
        """Store a small local file in one read where the backend has such a path (a local
        folder: see :meth:`LocalBlobStore.put_small`); None means "use :meth:`put_file`".

        Example:
            >>> import os
            >>> BlobStore("memory://artiflow-small-doc").put_small(__file__, os.stat(__file__))
        """
        return None

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
        since = unchanged_since or {}

        def one(pd: tuple[str, str]) -> None:
            self._put_known(pd[0], pd[1], progress, since.get(pd[0]))

        if len(todo) <= 1 or workers == 1:
            for pd in todo:
                one(pd)
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                list(pool.map(one, todo))
        return len(todo)

    # ---- reading ------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading (unverified; prefer :meth:`get_file` / :meth:`read_bytes`)."""
        raise NotImplementedError

    def hash_blob(self, digest: str, *, progress: Progress = None) -> tuple[str, int] | None:
        """``(digest, size)`` of what the store holds under ``digest`` (read and hashed whole,
        streamed), or None when nothing is there."""
        raise NotImplementedError

    def _fetch(self, digest: str, tmp: Path, progress: Progress) -> str:
        """Copy the blob to the new file ``tmp``; return the digest of what was copied."""
        raise NotImplementedError

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
            raise self.corrupt_error(digest, found)
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
            found = self._fetch(digest, tmp, progress)
            if found != digest:
                raise self.corrupt_error(digest, found)
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
        from .local import LocalBlobStore

        if not isinstance(into, LocalBlobStore):
            raise StoreError(f"get_many copies into a local folder, not {into.url!r}")
        todo = sorted(into.missing(digests))

        def one(digest: str) -> None:
            tmp = into.new_tmp_path()
            try:
                self.get_file(digest, tmp, progress=progress)
                into.install(tmp, digest)
            finally:
                tmp.unlink(missing_ok=True)

        self._pool_map(one, todo)
        return len(todo)

    # ---- setting aside ------------------------------------------------------------------
    def quarantine(self, digest: str) -> str | None:
        """Move the blob aside to ``<store>/quarantine/<digest>.<UTC timestamp>`` and return
        where it went (None when nothing was there). Nothing is deleted."""
        raise NotImplementedError

    def quarantined(self) -> dict[str, list[str]]:
        """The blobs set aside by :meth:`quarantine`: digest -> paths of the copies."""
        raise NotImplementedError

    def corrupt_error(self, digest: str, found: str) -> ArtiflowError:
        """The error for a blob that hashed to ``found`` on a read. Never a delete: the blob is
        hashed again first (a transient fault that garbled one read changes nothing and says to
        try again); a blob that is still wrong is moved aside (:meth:`quarantine`), so the next
        log of that content stores it again and no other reader gets it.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> type(s.corrupt_error(d, "ff" * 32)).__name__  # it verifies now: transient
            'StoreError'
        """
        try:
            again = self.hash_blob(digest)
        except StoreError as exc:
            return exc
        if again is None:
            return StoreError(missing_message(digest, self.url))
        if again[0] == digest:
            return StoreError(transient_message(digest, self.url))
        where: str | None = None
        with contextlib.suppress(StoreError):
            where = self.quarantine(digest)
        return VerificationError(corrupt_message(digest, self.url, again[0], where))

    _corrupt = corrupt_error  # the name version.py and tests/core/test_integrity.py use

    # ---- removing -----------------------------------------------------------------------
    def delete(self, digest: str) -> None:
        """Remove a blob (missing blobs are ignored)."""
        raise NotImplementedError

    def delete_many(self, digests: Sequence[str]) -> None:
        """Remove many blobs (missing ones are ignored), in parallel.

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x"); s.delete_many([d])
            >>> s.exists(d)
            False
        """
        self._pool_map(self.delete, list(digests))

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Remove what killed writers left (temporary files, unfinished uploads); returns how
        many were removed. A backend without such leftovers removes nothing.

        Example:
            >>> BlobStore("memory://artiflow-clean-doc").clean_tmp()
            0
        """
        return 0
