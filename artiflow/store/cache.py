"""The per-machine download cache: a local blob store holding verified copies of a remote
store's blobs, so that checkouts can link or copy local files (the ``CachingFileSystem`` habit
of ``fsspec.implementations.cached``: a wrapper, not a flag on the store).

Example:
    >>> import tempfile
    >>> remote = BlobStore("memory://artiflow-cache-doc"); d = remote.put_bytes(b"x")
    >>> cache = DownloadCache(tempfile.mkdtemp())
    >>> open(cache.local_copy(remote, d), "rb").read(), cache.fill(remote, [d])
    (b'x', 0)
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import BlobStore, Progress
from .local import LocalBlobStore

__all__ = ["DownloadCache"]


class DownloadCache(LocalBlobStore):
    """Verified local copies of the blobs of other stores, in the folder ``url``."""

    def local_copy(self, store: BlobStore, digest: str) -> str:
        """A local file holding the blob ``digest`` of ``store``: the store's own file for a
        local store, else this cache's copy (fetched and verified on first use).

        Example:
            >>> import tempfile
            >>> s = BlobStore(tempfile.mkdtemp()); d = s.put_bytes(b"x")
            >>> DownloadCache(tempfile.mkdtemp()).local_copy(s, d) == s.path(d)
            True
        """
        if isinstance(store, LocalBlobStore):
            return store.local_file(digest)
        if not self.exists(digest):
            tmp = self.new_tmp_path()
            try:
                store.get_file(digest, tmp)
                self.install(tmp, digest)
            finally:
                tmp.unlink(missing_ok=True)
        return self.path(digest)

    def fill(self, store: BlobStore, digests: Iterable[str], *, progress: Progress = None) -> int:
        """Fetch the blobs ``digests`` of ``store`` this cache lacks, in parallel and verified;
        returns how many were fetched (nothing for a local store: its files are used directly).
        """
        if isinstance(store, LocalBlobStore):
            return 0
        return store.get_many(digests, self, progress=progress)
