"""Content-addressed blobs, by backend.

Blobs are named by their BLAKE3 digest and sharded ``<root>/ab/cdef…``. Writes are atomic (a
temporary name, then a rename; an object store's PUT or completed multipart upload is atomic by
itself) and never overwrite an existing blob. Every read is verified against the digest; a blob
whose content no longer matches its name is set aside into ``quarantine/`` (so the next ``log``
uploads it again) and never handed out.

``BlobStore(url)`` picks the backend by URL: :class:`LocalBlobStore` for a folder (a fast path
that hashes and writes in one read of the source file), :class:`S3BlobStore` for ``s3://``,
:class:`RemoteBlobStore` for any other fsspec URL (``gs://``, ``memory://`` …), the backend
imported lazily with the extra to install named when it is missing
(:func:`open_filesystem`). Many small blobs move in parallel (:meth:`BlobStore.put_many`,
:meth:`BlobStore.get_many`; ``ARTIFLOW_TRANSFER_CONCURRENCY`` requests at once, default 16);
large ones are streamed in 8 MiB parts, never held whole in memory.

Modules: ``base`` (the interface, verify-on-read, the factory), ``local``, ``remote``, ``s3``,
``cache`` (the download cache), ``checkout`` (link/copy primitives), ``fs`` (opening a file
system).

Example:
    >>> import tempfile, os
    >>> store = BlobStore(tempfile.mkdtemp())
    >>> digest = store.put_bytes(b"hello")
    >>> store.exists(digest), store.read_bytes(digest)
    (True, b'hello')
"""

from __future__ import annotations

from .base import (
    DEFAULT_CONCURRENCY,
    QUARANTINE,
    SMALL_BLOB,
    BlobStore,
    Progress,
    backend_for,
    missing_message,
    open_store,
)
from .cache import DownloadCache
from .checkout import copy_new_small, link_or_copy
from .fs import open_filesystem
from .local import LocalBlobStore, corrupt_local, set_aside_file
from .remote import RemoteBlobStore
from .s3 import S3BlobStore

__all__ = [
    "DEFAULT_CONCURRENCY",
    "QUARANTINE",
    "SMALL_BLOB",
    "BlobStore",
    "DownloadCache",
    "LocalBlobStore",
    "Progress",
    "RemoteBlobStore",
    "S3BlobStore",
    "backend_for",
    "copy_new_small",
    "corrupt_local",
    "link_or_copy",
    "missing_message",
    "open_filesystem",
    "open_store",
    "set_aside_file",
]
