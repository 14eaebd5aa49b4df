"""Checkout primitives: put a verified local blob at a destination by copy, reflink, hardlink
or symlink (the ``dvc_objects/fs/generic.py`` habit: link/copy at the file-system level, apart
from the store). Every file handed out is hashed on the way; a blob that does not verify is set
aside (:func:`~artiflow.store.local.corrupt_local`) and never written.

Example:
    >>> import tempfile, os
    >>> from artiflow.store import BlobStore
    >>> d = tempfile.mkdtemp(); s = BlobStore(os.path.join(d, "s")); h = s.put_bytes(b"hi")
    >>> link_or_copy(s.path(h), os.path.join(d, "out", "f"), "copy", h, size=2)
    >>> open(os.path.join(d, "out", "f")).read()
    'hi'
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Sequence

from ..exceptions import StoreError
from ..hashing import hash_bytes, hash_file
from .base import SMALL_BLOB, Progress, next_number
from .local import corrupt_local, write_all

__all__ = ["LINK_TYPES", "copy_new_small", "link_or_copy", "reflink"]

LINK_TYPES = ("copy", "reflink", "hardlink", "symlink")
_NO_REFLINK = (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY)
_FICLONE = 0x40049409


def reflink(src: str, dst: str) -> None:
    """Clone ``src`` to the new file ``dst`` (``FICLONE``: Btrfs, XFS …); :class:`OSError` where
    the file system cannot."""
    import fcntl

    with open(src, "rb") as s, open(dst, "wb") as d:
        fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())


def _beside(dst: str) -> str:
    # unique per process and thread without a getrandom() per file
    head, tail = os.path.split(dst)
    return os.path.join(
        head, f".{tail}.artiflow-{os.getpid()}-{threading.get_ident()}-{next_number()}"
    )


def _store_of(blob: str) -> str:
    return os.path.dirname(os.path.dirname(blob))


def _read_small(src: str, digest: str, size: int, store_url: str) -> bytes:
    """The verified content of a small blob, one read (one byte more: a longer blob fails)."""
    fd = os.open(src, os.O_RDONLY)
    try:
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    if hash_bytes(data) != digest:  # moved aside (never deleted) so that a re-log repairs it
        raise corrupt_local(src, digest, store_url)
    return data


def _write_new(path: str, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` (it must not exist)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def copy_new_small(
    jobs: Sequence[tuple[str, str, str, int | None]], store_url: str, progress: Progress = None
) -> None:
    """Copy small local blobs to new files: ``jobs`` of ``(blob path, destination, digest,
    size)``, each destination in a folder that exists and private to the caller (it is renamed
    into place as a whole), each blob verified before its file is written. The per-file cost of
    :func:`link_or_copy`'s small-file path without its per-file options: 10,000 files of 10 KiB
    take about 0.2 s.

    Example:
        >>> import tempfile, os
        >>> from artiflow.store import BlobStore
        >>> d = tempfile.mkdtemp(); s = BlobStore(os.path.join(d, "s")); h = s.put_bytes(b"hi")
        >>> copy_new_small([(s.path(h), os.path.join(d, "out"), h, 2)], s.url)
        >>> open(os.path.join(d, "out")).read()
        'hi'
    """
    for src, dst, digest, size in jobs:
        try:
            data = _read_small(src, digest, size or 0, store_url)
        except FileNotFoundError:
            raise StoreError(
                f"blob {digest} is missing from store {store_url!r}: the store lost content the "
                "registry references; restore it or re-log the artifact"
            ) from None
        _write_new(dst, data)
        if progress is not None:
            progress(len(data))


def _copy_small(src: str, dst: str, tmp: str, digest: str, size: int, direct: bool) -> int:
    data = _read_small(src, digest, size, _store_of(src))
    try:
        _write_new(tmp, data)
        if not direct:
            os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return len(data)


def _copy(src: str, tmp: str, link_type: str, digest: str, progress: Progress) -> None:
    """Copy (or reflink, falling back to a copy) ``src`` to ``tmp``, hashing on the way."""
    cloned = False
    if link_type == "reflink":
        try:
            reflink(src, tmp)
            cloned = True
        except OSError as exc:
            if exc.errno not in _NO_REFLINK:
                raise
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    if cloned:
        found, _ = hash_file(tmp, progress=progress)
    else:
        with open(tmp, "xb", buffering=0) as out:
            found, _ = hash_file(src, sink=out.write, progress=progress)
    if found != digest:
        raise corrupt_local(src, digest, _store_of(src))
    os.chmod(tmp, 0o644)


def _link(src: str, tmp: str, link_type: str, digest: str, progress: Progress) -> None:
    """Hash ``src`` once, then hardlink or symlink it at ``tmp``."""
    found, _ = hash_file(src, progress=progress)
    if found != digest:
        raise corrupt_local(src, digest, _store_of(src))
    if link_type == "hardlink":
        os.link(src, tmp)
    elif link_type == "symlink":
        os.symlink(os.path.abspath(src), tmp)
    else:  # pragma: no cover - validated in Settings
        raise StoreError(f"unknown link type {link_type!r}")


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

    Example:
        >>> import tempfile, os
        >>> from artiflow.store import BlobStore
        >>> d = tempfile.mkdtemp(); s = BlobStore(os.path.join(d, "s")); h = s.put_bytes(b"hi")
        >>> link_or_copy(s.path(h), os.path.join(d, "f"), "hardlink", h)
        >>> os.path.samefile(s.path(h), os.path.join(d, "f"))
        True
    """
    dst = os.fspath(dst)
    if not parent_exists:
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    tmp = dst if direct else _beside(dst)
    if link_type == "copy" and size is not None and size <= SMALL_BLOB:
        written = _copy_small(src, dst, tmp, digest, size, direct)
        if progress is not None:
            progress(written)
        return
    try:
        if link_type in ("copy", "reflink"):
            _copy(src, tmp, link_type, digest, progress)
        else:
            _link(src, tmp, link_type, digest, progress)
        if not direct:
            os.replace(tmp, dst)
        tmp = ""  # handed out: nothing to clean up
    finally:
        if tmp and os.path.lexists(tmp):
            os.unlink(tmp)
