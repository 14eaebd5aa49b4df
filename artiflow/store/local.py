"""The blob store in a local folder: ``<root>/ab/cdef…``, written through ``<root>/tmp`` and a
rename, read-only blobs, damaged blobs set aside into ``<root>/quarantine/``.

The fast path hashes and writes a small file in one read; a blob of the wrong size counts as
absent (and is set aside) when the caller says what size it expects; a full disk is a clear
:class:`StoreError`.

Example:
    >>> import tempfile
    >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
    >>> s.missing([d], {d: 2}) == {d}  # the wrong size: damaged, set aside
    True
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from ..exceptions import ArtiflowError, StoreError, VerificationError
from ..hashing import hash_bytes, hash_file, hash_stream
from .base import (
    QUARANTINE,
    SMALL_BLOB,
    BlobStore,
    Progress,
    corrupt_message,
    quarantine_name,
    read_error,
    temp_name,
    transient_message,
)

__all__ = [
    "TMP_MAX_AGE",
    "LocalBlobStore",
    "corrupt_local",
    "owner_alive",
    "set_aside_file",
    "write_all",
]

TMP_MAX_AGE = 3600.0  # a temp file of a live process older than this is abandoned anyway


def set_aside_file(blob: str, digest: str) -> str | None:
    """Move the local blob file ``blob`` (``<root>/ab/cdef…``) to
    ``<root>/quarantine/<digest>.<UTC timestamp>``: one rename, nothing deleted. Returns the new
    path, or None when the blob is gone already (another reader moved it).

    Example:
        >>> import tempfile
        >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
        >>> set_aside_file(s.path(d), d).startswith(str(s.root / "quarantine"))
        True
    """
    folder = os.path.join(os.path.dirname(os.path.dirname(blob)), QUARANTINE)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, quarantine_name(digest))
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

    Example:
        >>> import tempfile
        >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
        >>> "transient" in str(corrupt_local(s.path(d), d, s.url))
        True
    """
    try:
        before = os.stat(blob)
        found, _ = hash_file(blob)
        now = os.stat(blob)
    except OSError as exc:
        return read_error(digest, store_url, exc)
    if found == digest:
        return StoreError(transient_message(digest, store_url))
    where = None
    if (now.st_ino, now.st_dev) == (before.st_ino, before.st_dev):
        with contextlib.suppress(OSError):
            where = set_aside_file(blob, digest)
    return VerificationError(corrupt_message(digest, store_url, found, where))


def owner_alive(name: str) -> bool:
    """Whether the temp file ``name`` (``<tag>-<pid>-<n>``) belongs to a process running on
    this machine (a reused pid only keeps the file longer, never removes a live one).

    Example:
        >>> owner_alive(f"tag-{os.getpid()}-1"), owner_alive("not-a-pid")
        (True, False)
    """
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


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` to the open file descriptor ``fd`` (``os.write`` may write
    fewer bytes than it is given).

    Example:
        >>> import tempfile
        >>> fd, name = tempfile.mkstemp(); write_all(fd, b"abc"); os.close(fd)
        >>> open(name, "rb").read()
        b'abc'
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LocalBlobStore(BlobStore):
    """A blob store in the local folder ``url`` (a path or a ``file://`` URL).

    Example:
        >>> import tempfile
        >>> s = LocalBlobStore(tempfile.mkdtemp()); s.exists(s.put_bytes(b"x"))
        True
    """

    is_local = True
    protocol = "file"

    def _open_root(self) -> str:
        url = self.url
        self.root = Path(url[len("file://") :] if url.startswith("file://") else url).absolute()
        self._tmp = self.root / "tmp"
        self._made: set[str] = set()  # shard folders known to exist
        return str(self.root)

    # ---- queries ------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        """True when the blob file is there.

        Example:
            >>> import tempfile
            >>> LocalBlobStore(tempfile.mkdtemp()).exists("ab" * 32)
            False
        """
        return os.path.exists(self.path(digest))

    def missing(self, digests: Iterable[str], sizes: Mapping[str, int] | None = None) -> set[str]:
        """The subset of ``digests`` that is not stored: one ``stat`` each. ``sizes`` (digest ->
        expected size) also counts a blob of the wrong size as missing (truncated, appended to,
        emptied) and sets it aside: the stat that sees the blob gives its size for free.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.missing([d, "00" * 32]) == {"00" * 32}
            True
        """
        known = sizes or {}
        path, exists = self.path, os.path.exists
        return {
            d
            for d in set(digests)
            if not (self._present(d, known[d]) if d in known else exists(path(d)))
        }

    def local_file(self, digest: str) -> str:
        """The path of the blob file; :class:`StoreError` when the store lost it.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.local_file(d) == s.path(d)
            True
        """
        path = self.path(digest)
        if not os.path.exists(path):
            raise StoreError(
                f"blob {digest} is missing from store {self.url!r}: the store lost content the "
                "registry references; restore it or re-log the artifact"
            )
        return path

    def iter_blob_info(self) -> Iterator[tuple[str, float, int]]:
        """Yield ``(digest, modified_time, size)`` for every blob: one ``scandir`` per shard.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"xyz")
            >>> [(b == d, size) for b, _, size in s.iter_blob_info()]
            [(True, 3)]
        """
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

    def _present(self, digest: str, size: int) -> bool:
        """True when the blob is stored; a blob of the wrong size counts as absent and is moved
        aside into ``quarantine/`` (damaged: truncated, appended to, emptied), so the writer
        asking stores the content again."""
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

    # ---- writing ------------------------------------------------------------------------
    def new_tmp_path(self) -> Path:
        """A new path in the store's ``tmp`` folder (for :meth:`install`).

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); s.new_tmp_path().parent.name
            'tmp'
        """
        return Path(self._tmp_name())

    def _tmp_name(self) -> str:
        if "tmp" not in self._made:
            try:
                self._tmp.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._write_error(exc, "a temporary file") from exc
            self._made.add("tmp")
        return f"{self.root_path}/tmp/{temp_name()}"

    def _touch(self, digest: str) -> None:
        """Mark a re-used blob as fresh, so gc's grace period covers the version that is about
        to use it."""
        with contextlib.suppress(OSError):
            os.utime(self.path(digest))

    def _shard(self, digest: str) -> None:
        shard = digest[:2]
        if shard not in self._made:
            os.makedirs(f"{self.root_path}/{shard}", exist_ok=True)
            self._made.add(shard)

    def install(self, tmp: Path | str, digest: str) -> None:
        """Make the verified file ``tmp`` (from :meth:`new_tmp_path`) the blob ``digest``; when
        the blob is there already, ``tmp`` is removed and the blob marked fresh.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); t = s.new_tmp_path()
            >>> _ = t.write_bytes(b"x"); s.install(t, s.put_bytes(b"x")); t.exists()
            False
        """
        if os.path.exists(self.path(digest)):
            os.unlink(tmp)
            self._touch(digest)
            return
        try:
            self._shard(digest)
            os.chmod(tmp, 0o444)  # blobs are read-only: hardlinked checkouts cannot corrupt them
            os.replace(tmp, self.path(digest))
        except OSError as exc:
            raise self._write_error(exc, f"blob {digest[:12]}") from exc

    def _write_bytes(self, data: bytes | memoryview, digest: str) -> None:
        """Write a small blob atomically (temporary name, then rename). On any failure (a full
        disk included) the temporary file is removed again: nothing is left behind."""
        try:
            tmp = self._tmp_name()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except OSError as exc:
            raise self._write_error(exc, f"blob {digest[:12]}") from exc
        try:
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            self._shard(digest)
            os.replace(tmp, self.path(digest))
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(exc, OSError) and not isinstance(exc, StoreError):
                raise self._write_error(exc, f"blob {digest[:12]}") from exc
            raise

    def _write_error(self, exc: OSError, what: str) -> StoreError:
        """The :class:`StoreError` for a failed write; a full disk (``ENOSPC``, or the quota:
        ``EDQUOT``) says so and what to do."""
        if isinstance(exc, StoreError):
            return exc
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreError(
                f"cannot store {what} in {self.url!r}: the disk that holds the store is full "
                f"({exc.strerror}); nothing was logged. Free space there (`artiflow gc` removes "
                "blobs no version needs and leftover temporary files), then log again"
            )
        return StoreError(f"cannot store {what} in {self.url!r}: {exc}")

    def put_small(self, local_path: str, before: os.stat_result) -> tuple[str, int, bool] | None:
        """Store a small local file (``before`` is its stat, size at most 1 MiB) with one open
        and one read. Returns ``(digest, size, unchanged)``, where ``unchanged`` says the file
        still had the stat ``before`` once read (so a stat cache may record it), or None when
        the file is not small any more (use :meth:`put_file`).

        Example:
            >>> import tempfile, os
            >>> d = tempfile.mkdtemp(); p = os.path.join(d, "f")
            >>> _ = open(p, "wb").write(b"abc")
            >>> LocalBlobStore(os.path.join(d, "store")).put_small(p, os.stat(p))[1:]
            (3, True)
        """
        want = before.st_size
        fd = os.open(local_path, os.O_RDONLY)
        try:
            data = os.read(fd, want + 1)  # one byte more than expected: growth shows at once
            after = os.fstat(fd)
            if len(data) != want or after.st_size != want:  # changing under us: read it all
                while len(data) <= SMALL_BLOB and (more := os.read(fd, SMALL_BLOB + 1 - len(data))):
                    data += more
                if len(data) > SMALL_BLOB:
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
            self._write_bytes(data, digest)
        return digest, len(data), unchanged

    def _put_new(
        self, local_path: str | os.PathLike[str], digest: str | None, progress: Progress
    ) -> tuple[str, int]:
        try:
            st = os.stat(local_path)
            small = self.put_small(os.fspath(local_path), st) if st.st_size <= SMALL_BLOB else None
            if small is not None:
                if progress is not None:
                    progress(small[1])
                return small[0], small[1]
            tmp = self.new_tmp_path()
            try:
                with open(tmp, "wb", buffering=0) as out:
                    found, size = hash_file(local_path, sink=out.write, progress=progress)
                self._present(found, size)  # sets a damaged blob aside, so install stores it
                self.install(tmp, found)
            finally:
                tmp.unlink(missing_ok=True)
            return found, size
        except (FileNotFoundError, StoreError):
            raise
        except OSError as exc:
            raise self._write_error(exc, repr(os.fspath(local_path))) from exc

    def _put_known(
        self, path: str, digest: str, progress: Progress, before: os.stat_result | None
    ) -> None:
        found, _ = self.put_file(path, progress=progress)
        if found != digest:
            raise StoreError(
                f"file {path!r} changed while it was being stored (expected {digest[:12]}, "
                f"read {found[:12]}); log it again"
            )

    # ---- reading ------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading (unverified; prefer :meth:`get_file` / :meth:`read_bytes`).

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp())
            >>> with s.open(s.put_bytes(b"hi")) as fh: fh.read()
            b'hi'
        """
        try:
            return open(self.path(digest), "rb")
        except OSError as exc:
            raise read_error(digest, self.url, exc) from exc

    def hash_blob(self, digest: str, *, progress: Progress = None) -> tuple[str, int] | None:
        """``(digest, size)`` of the blob file, or None when it is not there.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.hash_blob(d) == (d, 1), s.hash_blob("00" * 32)
            (True, None)
        """
        try:
            return hash_file(self.path(digest), progress=progress)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise read_error(digest, self.url, exc) from exc

    def _fetch(self, digest: str, tmp: Path, progress: Progress) -> str:
        with self.open(digest) as src, open(tmp, "wb") as out:
            found, _ = hash_stream(src, sink=out.write, progress=progress)
        return found

    # ---- setting aside ------------------------------------------------------------------
    def quarantine(self, digest: str) -> str | None:
        """Rename the blob to ``<root>/quarantine/<digest>.<UTC timestamp>`` (see
        :func:`set_aside_file`); None when nothing was there. The blob then counts as missing,
        so the next log of that content stores it again.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> s.quarantine(d) is not None, s.exists(d)
            (True, False)
        """
        return set_aside_file(self.path(digest), digest)

    def quarantined(self) -> dict[str, list[str]]:
        """The blobs set aside: digest -> paths of the copies.

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x"); _ = s.quarantine(d)
            >>> list(s.quarantined()) == [d]
            True
        """
        out: dict[str, list[str]] = {}
        folder = self.root / QUARANTINE
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            return out
        for name in names:
            out.setdefault(name.split(".", 1)[0], []).append(str(folder / name))
        return out

    def corrupt_error(self, digest: str, found: str) -> ArtiflowError:
        """See :func:`corrupt_local` (the same inode is set aside, never a replaced file)."""
        return corrupt_local(self.path(digest), digest, self.url)

    _corrupt = corrupt_error

    # ---- removing -----------------------------------------------------------------------
    def delete(self, digest: str) -> None:
        """Remove a blob (missing blobs are ignored).

        Example:
            >>> import tempfile
            >>> s = LocalBlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x"); s.delete(d)
            >>> s.exists(d)
            False
        """
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(digest))

    def delete_many(self, digests: Sequence[str]) -> None:
        """Remove many blobs, one ``unlink`` each (missing ones are ignored)."""
        for d in digests:
            self.delete(d)

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Remove temporary files killed writers left in ``<root>/tmp`` (older than
        ``older_than`` seconds; a live local writer's file only once it is an hour old).

        Example:
            >>> import tempfile
            >>> LocalBlobStore(tempfile.mkdtemp()).clean_tmp()
            0
        """
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
                if now - mtime < TMP_MAX_AGE and owner_alive(entry.name):
                    continue
                os.unlink(entry.path)
                removed += 1
        return removed
