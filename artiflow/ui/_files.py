"""The files of a version: a small cache of sorted manifests, and verified download streams.

Manifests are immutable, so a sorted copy keyed by ``(ref, digest)`` can be reused by every page of
a 10,000-file listing. Downloads stream from the store through the core and hold back the last
chunk until the core has verified the content: a corrupt blob ends in a broken transfer, never in
a complete-looking wrong file.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._serialize import pinned_ref

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileRow:
    """One manifest entry as the UI lists it."""

    path: str
    size: int | None
    digest: str | None
    ref: str | None
    lower: str  # path.lower(), for the search box


@dataclass(frozen=True)
class SortedManifest:
    """The entries of one version, sorted by path, with totals."""

    rows: tuple[FileRow, ...]
    index: dict[str, int]  # path -> position in rows
    total_size: int

    def __len__(self) -> int:
        return len(self.rows)


class ManifestCache:
    """A thread-safe LRU of :class:`SortedManifest` keyed by pinned ref and digest."""

    def __init__(self, capacity: int = 16) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, str | None], SortedManifest] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: Any) -> SortedManifest:
        """The sorted manifest of ``version`` (loaded from the core on a miss)."""
        key = (pinned_ref(version), getattr(version, "digest", None))
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        built = _build(version)
        with self._lock:
            self._items[key] = built
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return built


def _build(version: Any) -> SortedManifest:
    entries = version.manifest.entries
    rows = tuple(
        FileRow(
            path=path,
            size=getattr(entry, "size", None),
            digest=getattr(entry, "digest", None),
            ref=getattr(entry, "ref", None),
            lower=path.lower(),
        )
        for path, entry in sorted(entries.items())
    )
    return SortedManifest(
        rows=rows,
        index={row.path: i for i, row in enumerate(rows)},
        total_size=sum(row.size or 0 for row in rows),
    )


def _held_back(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield every chunk but the last one until ``chunks`` has finished without raising."""
    previous: bytes | None = None
    for chunk in chunks:
        if not chunk:
            continue
        if previous is not None:
            yield previous
        previous = chunk
    if previous is not None:
        yield previous


def _read_open(fh: Any) -> Iterator[bytes]:
    try:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            yield chunk
    finally:
        fh.close()  # a verifying reader may raise here, which aborts the transfer


def _read_store(store: Any, digest: str, size: int | None, ref: str) -> Iterator[bytes]:
    from artiflow.exceptions import VerificationError
    from artiflow.hashing import new_hasher

    hasher = new_hasher(size or 0)
    total = 0
    with store.open(digest) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            hasher.update(chunk)
            total += len(chunk)
            yield chunk
    found = hasher.hexdigest()
    if found != digest or (size is not None and total != size):
        raise VerificationError(
            f"{ref}: blob {digest} in the store is corrupt (content hashes to {found}, "
            f"{total} bytes); the download was aborted. Restore the blob or re-log the artifact"
        )


def _read_copy(version: Any, path: str) -> Iterator[bytes]:
    tmp = tempfile.mkdtemp(prefix="artiflow-ui-")
    try:
        version.get_path(path).download(tmp)  # the core verifies what it writes
        with open(Path(tmp, *path.split("/")), "rb") as fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                yield chunk
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_stream(registry: Any, version: Any, row: FileRow) -> Iterator[bytes]:
    """Chunks of the verified content of one manifest entry of ``version``.

    Stored files stream from the registry's blob store, hashed on the way; the last chunk is
    held back until the digest matched, so a corrupt blob ends in an aborted transfer. References
    (and stores without ``open``) go through the core's verified download into a temporary folder
    that is removed afterwards. The first chunk is read before returning, so a missing blob raises
    here, before any response header is sent.
    """
    opener = getattr(version, "open", None)
    store = getattr(registry, "store", None)
    if callable(opener):
        chunks = _read_open(opener(row.path))
    elif row.ref is None and row.digest and callable(getattr(store, "open", None)):
        chunks = _read_store(store, row.digest, row.size, f"{pinned_ref(version)} {row.path}")
    else:
        chunks = _read_copy(version, row.path)
    stream = _held_back(chunks)
    try:
        first = next(stream)
    except StopIteration:
        return iter(())

    def rest() -> Iterator[bytes]:
        yield first
        yield from stream

    return rest()
