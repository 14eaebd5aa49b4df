"""The files of a version: a small cache of sorted manifests, and verified download streams.

Manifests are immutable, so a sorted copy keyed by ``(ref, digest)`` can be reused by every page of
a 10,000-file listing. Downloads go through the core's verified reader (``version.open``), which
verifies a file before its first byte: a corrupt blob is answered with an error, never with its
bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
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

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

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


def open_stream(registry: Any, version: Any, row: FileRow) -> Iterator[bytes]:
    """Chunks of the verified content of one manifest entry of ``version``.

    One verified reader serves every download: the core's ``version.open``, which reads a file up
    to ``ARTIFLOW_VERIFY_SPOOL_BYTES`` (default 64 MiB) whole and verifies it before the first
    byte, and hashes a larger one whole before its first byte too (then again while it streams).
    A corrupt or missing blob therefore raises here, before any response header is sent (the app
    answers 502 with a JSON error and not one byte of the file). The last chunk is still held
    back until the stream ended without an error, so a file that changed while a large one was
    streamed ends in an aborted transfer, never in a complete-looking wrong file.
    """
    stream = _held_back(_read_open(version.open(row.path)))
    try:
        first = next(stream)
    except StopIteration:
        return iter(())

    def rest() -> Iterator[bytes]:
        yield first
        yield from stream

    return rest()
