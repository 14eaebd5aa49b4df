"""``file://`` references: a local file or folder, identified by BLAKE3 digest and size
(through the stat cache when the registry passes its hasher).

Example:
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "w").write("1")
    >>> [e.size for e in resolve("x", "file://" + p, 10, None, {})], identity(
    ...     Entry("x", size=1, ref="file://" + p), {})
    ([1], {'size': 1})
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import InvalidPathError
from ..hashing import hash_file, hash_stream
from ..manifest import Entry, normalize_path
from .base import Hasher, Sink, gone, too_many

__all__ = ["fetch", "identity", "local_path", "resolve"]


def local_path(uri: str) -> str:
    """The local path of a ``file://`` URI."""
    return uri[len("file://") :]


def _walk(local: Path, uri: str, limit: int) -> list[str]:
    files = []
    for dirpath, dirnames, filenames in os.walk(local):
        dirnames.sort()
        for f in sorted(filenames):
            files.append(os.path.join(dirpath, f))
            if len(files) > limit:
                raise too_many(uri, limit)
    return files


def resolve(
    entry_path: str, uri: str, limit: int, hasher: Hasher | None, options: Mapping[str, Any]
) -> list[Entry]:
    """One entry for a file, one per file below a folder (at most ``limit``)."""
    hasher = hasher or hash_file
    local = Path(local_path(uri))
    if local.is_file():
        digest, size = hasher(str(local))
        return [Entry(entry_path, digest=digest, size=size, ref=f"file://{local.absolute()}")]
    if not local.is_dir():
        raise InvalidPathError(f"reference {uri!r} does not exist")
    out = []
    for full in _walk(local, uri, limit):
        rel = os.path.relpath(full, local).replace(os.sep, "/")
        digest, size = hasher(full)
        out.append(
            Entry(
                normalize_path(f"{entry_path}/{rel}"),
                digest=digest,
                size=size,
                ref=f"file://{Path(full).absolute()}",
            )
        )
    return out


def identity(entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
    """``{"size"}`` (and ``"digest"`` when one was recorded) of the file now; ``{}`` if gone."""
    assert entry.ref is not None
    local = local_path(entry.ref)
    if not os.path.exists(local):
        return {}
    if entry.digest is None:
        return {"size": os.path.getsize(local)}
    digest, size = hash_file(local)
    return {"digest": digest, "size": size}


def fetch(entry: Entry, sink: Sink, options: Any) -> tuple[str, int, list[str]]:
    """Stream the file into ``sink``: ``(digest, size, no scheme-specific problems)``."""
    assert entry.ref is not None
    try:
        with open(local_path(entry.ref), "rb") as src:
            digest, size = hash_stream(src, sink=sink)
    except FileNotFoundError as exc:
        raise gone(entry) from exc
    return digest, size, []
