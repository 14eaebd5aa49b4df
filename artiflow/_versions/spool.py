"""Reading one stored entry without handing out an unverified byte (:meth:`ArtifactVersion.open`):
small files are spooled whole and verified, large ones hashed once and streamed through a
:class:`VerifiedReader` that hashes again.

Example:
    >>> import tempfile
    >>> from artiflow.store import BlobStore
    >>> store = BlobStore(tempfile.mkdtemp()); d = store.put_bytes(b"abc")
    >>> with spooled(store, d, 3, "a.txt") as fh:
    ...     fh.read()
    b'abc'
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..exceptions import InvalidPathError, StoreError, VerificationError
from ..hashing import CHUNK, hash_stream, new_hasher

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..store import BlobStore

__all__ = ["SPOOL_LIMIT", "Cleanup", "VerifiedReader", "prechecked", "spool_limit", "spooled"]


SPOOL_LIMIT = 64 * 1024 * 1024  # default of ARTIFLOW_VERIFY_SPOOL_BYTES
_SPOOL_MEMORY = 8 * 1024 * 1024  # a spool larger than this rolls over to a temporary file


def spool_limit() -> int:
    """Up to this size (``ARTIFLOW_VERIFY_SPOOL_BYTES``, default 64 MiB) :meth:`ArtifactVersion.open`
    reads a stored file whole and verifies it before handing out its first byte.

    Example:
        >>> spool_limit() >= 0
        True
    """
    raw = os.environ.get("ARTIFLOW_VERIFY_SPOOL_BYTES", "")
    if not raw:
        return SPOOL_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidPathError(
            f"ARTIFLOW_VERIFY_SPOOL_BYTES={raw!r} is not a size in bytes; set it to e.g. "
            f"{SPOOL_LIMIT} (64 MiB)"
        )
    return value


class VerifiedReader(io.RawIOBase):
    """A read-only stream over content that was verified whole before it was opened, hashed
    again as it is read: a :class:`VerificationError` at the end says the file changed after its
    check (see :meth:`ArtifactVersion.open`)."""

    def __init__(self, raw: BinaryIO, digest: str, path: str) -> None:
        self._raw = raw
        self._digest = digest
        self._path = path
        self._hasher = new_hasher()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        if n == 0:
            if not self._done:
                self._done = True
                if self._hasher.hexdigest() != self._digest:
                    raise VerificationError(
                        f"entry {self._path!r}: its stored content changed while it was read "
                        f"(it no longer matches digest {self._digest}); do not use what was read",
                        [("changed", self._path)],
                    )
            return 0
        buffer[:n] = data
        self._hasher.update(data)
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()
        super().close()


def spooled(store: BlobStore, digest: str, size: int | None, path: str) -> BinaryIO:
    """The stored blob read whole into a private spool (memory, then a temporary file) and
    verified: corrupt content raises here, before anything is handed out."""
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115 - returned
    limit = None if size is None else size + 1  # one byte more: a longer blob fails at once
    try:
        hasher, total = new_hasher(), 0
        with store.open(digest) as fh:
            while limit is None or total < limit:
                chunk = fh.read(CHUNK if limit is None else min(CHUNK, limit - total))
                if not chunk:
                    break
                hasher.update(chunk)
                spool.write(chunk)
                total += len(chunk)
        found = hasher.hexdigest()
        if found != digest:
            raise store.corrupt_error(digest, found)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool  # type: ignore[return-value]


def prechecked(ctx: RegistryContext, digest: str, path: str) -> BinaryIO:
    """A large blob as a local file (the store's, or the download cache's verified copy for an
    object store) hashed whole once before it is handed out, then streamed from the same open
    file and hashed again (:class:`VerifiedReader`)."""
    from .._ops.materialize import local_blob
    from ..store import corrupt_local, missing_message

    store = ctx.store
    blob = store.path(digest) if store.is_local else local_blob(ctx, digest)
    try:
        fh = open(blob, "rb")  # noqa: SIM115 - returned
    except FileNotFoundError:
        raise StoreError(missing_message(digest, store.url)) from None
    try:
        found, _ = hash_stream(fh)
        if found != digest:
            raise corrupt_local(
                blob, digest, store.url if store.is_local else str(Path(blob).parents[1])
            )
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return io.BufferedReader(VerifiedReader(fh, digest, path))  # type: ignore[return-value]


class Cleanup(io.BufferedReader):
    """An open file whose temporary folder goes away when it is closed."""

    def __init__(self, raw: io.FileIO, folder: Path) -> None:
        super().__init__(raw)
        self._folder = folder

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._folder, ignore_errors=True)
