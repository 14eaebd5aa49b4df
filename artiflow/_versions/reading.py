"""Reading a logged version: its entries, one entry opened verified, the whole version
downloaded, checked out or verified on disk (the work is in :mod:`artiflow._ops.materialize`).

Example:
    >>> from artiflow.version import ArtifactVersion
    >>> ArtifactVersion.download is VersionReading.download
    True
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..exceptions import ArtifactNotFoundError, InvalidPathError
from ..manifest import Entry
from .core import VersionCore
from .spool import Cleanup, prechecked, spool_limit, spooled

__all__ = ["VersionReading"]


class VersionReading(VersionCore):
    """Entries, ``open``, ``download``, ``checkout`` and ``verify`` (a part of
    :class:`~artiflow.ArtifactVersion`)."""

    def files(self) -> Iterator[Entry]:
        """Iterate entries without downloading, sorted by path (read from the catalog a page
        at a time when :attr:`manifest` is not loaded: memory does not grow with the number
        of files).

        Example:
            >>> # [e.path for e in v.files()]
        """
        if self._manifest is not None:
            yield from self._manifest.entries.values()
            return
        from .._ops.materialize import entry_pages

        for page in entry_pages(self._ctx, self._as_version):
            yield from page

    def get_path(self, name: str) -> Entry:
        """The entry at ``name`` (call ``.download()`` on it to fetch just that file)."""
        entry = self.manifest.entries.get(name)
        if entry is None:
            raise ArtifactNotFoundError(
                f"{self.ref} has no entry {name!r}; it has {len(self.manifest)} entries (see version.files())"
            )
        return entry

    def open(self, name: str) -> BinaryIO:
        """Open one entry for reading; no unverified byte is handed out.

        A stored file up to ``ARTIFLOW_VERIFY_SPOOL_BYTES`` (default 64 MiB) is read whole into a
        private spool (memory up to 8 MiB, then a temporary file) and verified before this
        returns: a corrupt or missing blob raises here (:class:`VerificationError` /
        :class:`StoreError`), and what is read afterwards is the verified copy. A larger file is
        hashed whole once before this returns (a local file: the store's own, or the download
        cache's verified copy for an object store), then streamed from the same open file and
        hashed again; it can only differ from what was checked if the stored file is rewritten
        in between, which the end of the stream reports. References are downloaded (verified)
        into a temporary folder that goes away when the stream is closed.

        Example:
            >>> # with version.open("rows.csv") as fh: header = fh.readline()
        """
        entry = self.get_path(name)
        if entry.is_reference or entry.digest is None:
            import tempfile

            tmp = Path(tempfile.mkdtemp(prefix="artiflow-open-"))
            path = entry.download(tmp)
            return Cleanup(io.FileIO(path, "rb"), tmp)  # type: ignore[return-value]
        if entry.size is None or entry.size <= spool_limit():
            return spooled(self._ctx.store, entry.digest, entry.size, entry.path)
        return prechecked(self._ctx, entry.digest, entry.path)

    def default_root(self) -> Path:
        """``./artifacts/<name>:<version>/``."""
        return Path("artifacts") / f"{self.collection}:{self.version}"

    def download(self, root: str | os.PathLike[str] | None = None, *, progress: Any = None) -> Path:
        """Download every entry under ``root`` (default ``./artifacts/<name>:<version>/``).

        Files already in ``root`` with the right content are left alone; other files there are
        left alone too (use :meth:`checkout` for an exact copy). Every file is verified.
        Nothing is written through a symbolic link inside ``root``: a linked folder on the way
        to an entry raises :class:`InvalidPathError` naming it, before anything is written
        (``root`` itself may be a link to a folder).

        Into a new folder the entries are read and written a page at a time: memory does not
        grow with the number of files.

        Example:
            >>> # path = registry.get("bike-dataset:latest").download("/tmp/ds")
        """
        from .._ops.materialize import download

        return download(self._ctx, self._as_version, root, progress)

    def download_entries(
        self, items: list[Entry], root: str | os.PathLike[str] | None, progress: Any = None
    ) -> Path:
        """Download just ``items`` (entries of this version) under ``root``, as :meth:`download`
        does (``entry.download()`` calls this).

        Example:
            >>> # v.download_entries([v.get_path("rows.csv")], "/tmp/ds")
        """
        from .._ops.materialize import download_entries

        return download_entries(self._ctx, self._as_version, items, root, progress)

    def file(self, root: str | os.PathLike[str] | None = None) -> Path:
        """Download a single-file artifact and return the file's path.

        Example:
            >>> # model_path = registry.get("churn-model:production").file()
        """
        if len(self.manifest) != 1:
            raise InvalidPathError(
                f"{self.ref} has {len(self.manifest)} entries; file() is for single-file artifacts: "
                "use download() or get_path(name).download()"
            )
        base = self.download(root)
        return base / next(iter(self.manifest.entries))

    def checkout(self, root: str | os.PathLike[str]) -> Path:
        """Make ``root`` exactly this version: download what differs, remove extra files.

        Links inside ``root`` on the way to an entry are replaced by real folders (the link is
        removed, never what it points to). Refused before anything is written or deleted
        (:class:`InvalidPathError`): the file-system root, your home, a folder holding the
        current folder or the registry's home, database, store or cache, a folder inside the
        store or cache, and the current folder itself when files there would be deleted.

        Example:
            >>> # registry.get("ds:v2").checkout("data/")
        """
        from .._ops.materialize import checkout

        return checkout(self._ctx, self._as_version, root)

    def verify(self, root: str | os.PathLike[str]) -> None:
        """Raise :class:`VerificationError` listing every missing, changed or extra file under
        ``root``, every symbolic link on the way to an entry (kind ``symlink``; nothing is read
        through a link out of ``root``) and every reference whose remote identity changed.

        Example:
            >>> # registry.get("ds:v2").verify("data/")
        """
        from .._ops.materialize import verify

        verify(self._ctx, self._as_version, root)
