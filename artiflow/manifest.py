"""Manifest and Entry value objects, entry-path validation and the canonical version digest.

Example:
    >>> m = Manifest({"a.txt": Entry("a.txt", digest="00" * 32, size=1)})
    >>> len(m.digest())
    64
    >>> normalize_path("data/train.csv")
    'data/train.csv'
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import blake3

from .exceptions import InvalidPathError
from .limits import PATH_MAX_BYTES, SEGMENT_MAX_BYTES

__all__ = [
    "ASSET_KEY",
    "EMPTY_EXTRA",
    "Entry",
    "Manifest",
    "check_collisions",
    "claim_path",
    "normalize_path",
]

#: the key of ``Entry.extra`` that holds an entry's own metadata and asset type (Comet's
#: per-asset ``metadata`` / ``asset_type``); stored with the entry, part of the version digest
ASSET_KEY = "artiflow:asset"


def normalize_path(name: object) -> str:
    """Check an entry path and return it; raise :class:`InvalidPathError` if unsafe.

    Entry paths are relative POSIX paths of valid Unicode: no ``..``, ``.``, absolute paths,
    empty segments, NUL or backslashes; a segment (file or folder name) is at most 255 bytes of
    UTF-8 and the whole path at most 4096.

    Example:
        >>> normalize_path("../etc/passwd")
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidPathError: invalid entry path '../etc/passwd': '..' segments are not allowed; use a path inside the artifact
    """
    if not isinstance(name, str) or name == "":
        raise InvalidPathError(f"invalid entry path {name!r}: give a non-empty relative path")
    why = None
    if "\x00" in name:
        why = "it contains a NUL byte"
    elif "\\" in name:
        why = "backslashes are not allowed; use '/' as the separator"
    elif name.startswith("/"):
        why = "absolute paths are not allowed; use a path relative to the artifact root"
    else:
        for seg in name.split("/"):
            if seg == "":
                why = "empty path segments ('//' or a trailing '/') are not allowed"
            elif seg == "..":
                why = "'..' segments are not allowed; use a path inside the artifact"
            elif seg == ".":
                why = "'.' segments are not allowed"
            elif (
                len(seg) > SEGMENT_MAX_BYTES // 4
                and len(seg.encode("utf-8", "surrogatepass")) > SEGMENT_MAX_BYTES
            ):
                why = (
                    f"the name {seg[:40]!r}… is {len(seg.encode('utf-8', 'surrogatepass'))} bytes "
                    f"long, over the {SEGMENT_MAX_BYTES} bytes file systems allow for one name; "
                    "use a shorter name"
                )
            if why:
                break
    if why is None and not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raw = name.encode("utf-8", "surrogateescape") if _escaped(name) else None
            why = (
                f"it is not valid UTF-8 (the file name bytes are {raw!r}: another encoding?); "
                "rename the file to UTF-8 (e.g. with convmv) or give the entry a name="
                if raw is not None
                else "it is not valid Unicode (a lone surrogate); give a valid name"
            )
    if why is None and len(name) > PATH_MAX_BYTES // 4:
        size = len(name.encode("utf-8"))
        if size > PATH_MAX_BYTES:
            why = f"it is {size} bytes long, over {PATH_MAX_BYTES}; use a shorter path"
    if why:
        shown = repr(name) if len(name) <= 200 else repr(name[:200]) + "…"
        raise InvalidPathError(f"invalid entry path {shown}: {why}")
    return name


def _escaped(name: str) -> bool:
    """True when every lone surrogate of ``name`` is a ``surrogateescape``d byte (an OS name)."""
    try:
        name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _fold(path: str) -> str:
    """The key under which case-insensitive, normalizing file systems (macOS, Windows) store a
    name: NFC, then lower case."""
    if path.isascii():
        return path.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).lower())


def check_collisions(paths: Iterable[str], what: str = "the version") -> None:
    """Raise :class:`InvalidPathError` when two paths (or their folders) differ only by case or
    Unicode normalization (NFC vs NFD): on macOS and Windows they are one file.

    Example:
        >>> check_collisions(["Data/a.csv", "data/b.csv"])
        Traceback (most recent call last):
        ...
        artiflow.exceptions.InvalidPathError: entry paths 'Data' and 'data' of the version differ only by case: they are one file on macOS and Windows; rename one of them
    """
    seen: dict[str, str] = {}
    for path in paths:
        claim_path(seen, path, what)


def claim_path(seen: dict[str, str], path: str, what: str) -> None:
    """Record ``path`` and its folders in ``seen`` (folded key -> path), raising on a collision
    (and then recording nothing): the incremental form of :func:`check_collisions`, for drafts
    that check each path as it is added.

    Example:
        >>> seen: dict[str, str] = {}
        >>> claim_path(seen, "data/a.csv", "the draft")
        >>> sorted(seen)
        ['data', 'data/a.csv']
    """
    if path.isascii():
        folded = path.lower()
        if folded == path:  # the usual case: one string for key and value (~70 bytes a file)
            folded = path
        pairs = [(folded, path)]
        i = path.rfind("/")
        while i > 0:
            original = path[:i]
            pairs.append((original if folded is path else folded[:i], original))
            i = path.rfind("/", 0, i)
    else:
        parts = path.split("/")
        keys = [_fold(p) for p in parts]
        pairs = [("/".join(keys[: n + 1]), "/".join(parts[: n + 1])) for n in range(len(parts))]
        pairs.reverse()
    new = 0
    for n, (key, original) in enumerate(pairs):
        other = seen.get(key)
        if other is None:
            new = n + 1
            continue
        if other == original:
            if n:
                break  # this folder, and so every folder above it, was recorded before
            continue
        if unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", original):
            why = "differ only by Unicode normalization (NFC vs NFD)"
        else:
            why = "differ only by case"
        raise InvalidPathError(
            f"entry paths {other!r} and {original!r} of {what} {why}: they are one file on "
            "macOS and Windows; rename one of them"
        )
    for key, original in pairs[:new]:
        seen[key] = original


@dataclass(frozen=True, slots=True)  # no __dict__: ~50 bytes less a file
class Entry:
    """One file of a version: its path, content digest, size, and for references the URI.

    ``digest`` is the BLAKE3 hex digest of the content (None for references recorded with
    ``checksum=False`` or identified only by a remote ETag); ``ref`` is the URI of a reference;
    ``extra`` holds reference identities (``etag``, ``version_id``, ``md5``, ...).

    Example:
        >>> Entry("a", digest="ab" * 32, size=3).is_reference
        False
    """

    path: str
    digest: str | None = None
    size: int | None = None
    ref: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # set when the entry is bound to a version (for download/get_path convenience)
    _version: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def bound_version(self) -> Any:
        """The version this entry was bound to (:meth:`bind`), or None."""
        return self._version

    @property
    def is_reference(self) -> bool:
        """True when the content lives outside the store (``add_reference``)."""
        return self.ref is not None

    # ---- per-entry metadata and the Comet / W&B spellings (read without downloading) ----
    @property
    def metadata(self) -> dict[str, Any]:
        """This entry's own metadata (``add_file(..., metadata=...)``); ``{}`` when none.

        Example:
            >>> Entry("a", size=1).with_asset({"rows": 3}, "table").metadata
            {'rows': 3}
        """
        asset = self.extra.get(ASSET_KEY) if self.extra else None
        return dict(asset.get("metadata") or {}) if asset else {}

    @property
    def asset_type(self) -> str | None:
        """This entry's asset type (``add_file(..., asset_type="model-element")``), or None."""
        asset = self.extra.get(ASSET_KEY) if self.extra else None
        return asset.get("type") if asset else None

    @property
    def logical_path(self) -> str:
        """The entry path (Comet's ``logical_path``)."""
        return self.path

    @property
    def remote(self) -> bool:
        """True for a reference (Comet's ``remote``): :attr:`is_reference`."""
        return self.ref is not None

    @property
    def link(self) -> str | None:
        """The URI of a reference (Comet's ``link``), None for a stored file."""
        return self.ref

    def with_asset(self, metadata: Mapping[str, Any] | None, asset_type: str | None) -> Entry:
        """A copy carrying this metadata and asset type (both empty: none at all).

        Example:
            >>> Entry("a", size=1).with_asset(None, None).extra
            {}
        """
        extra = {k: v for k, v in self.extra.items() if k != ASSET_KEY}
        asset: dict[str, Any] = {}
        if metadata:
            asset["metadata"] = dict(metadata)
        if asset_type is not None:
            asset["type"] = asset_type
        if asset:
            extra[ASSET_KEY] = asset
        return replace(self, extra=extra)

    def identity(self) -> str:
        """The canonical line this entry contributes to the version digest."""
        extra = (
            json.dumps(dict(self.extra), sort_keys=True, separators=(",", ":"))
            if self.extra
            else ""
        )
        return "\x00".join(
            [
                self.path,
                self.digest or "",
                str(self.size if self.size is not None else ""),
                self.ref or "",
                extra,
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Example:
            >>> Entry("a", size=1).to_dict()["path"]
            'a'
        """
        return {
            "path": self.path,
            "digest": self.digest,
            "size": self.size,
            "ref": self.ref,
            "extra": {k: v for k, v in self.extra.items() if k != ASSET_KEY},
            "metadata": self.metadata,
            "asset_type": self.asset_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        """Inverse of :meth:`to_dict`."""
        entry = cls(
            path=data["path"],
            digest=data.get("digest"),
            size=data.get("size"),
            ref=data.get("ref"),
            extra=dict(data.get("extra") or {}),
        )
        if data.get("metadata") or data.get("asset_type") is not None:
            entry = entry.with_asset(data.get("metadata"), data.get("asset_type"))
        return entry

    def bind(self, version: Any) -> Entry:
        """A copy of this entry that knows its version (for :meth:`download`)."""
        return replace(self, _version=version)

    def download(self, root: str | Path | None = None) -> Path:
        """Download this one entry under ``root`` (default: the version's download folder).

        Example:
            >>> # path = version.get_path("model.json").download("/tmp/out")
        """
        if self._version is None:
            raise InvalidPathError(
                f"entry {self.path!r} is not bound to a version; use version.get_path(name)"
            )
        base: Path = self._version.download_entries([self], root)
        return base / self.path


_DIGEST_BATCH = 4096  # entries hashed per update of Manifest.digest()

#: the ``extra`` of entries that have none, shared (a fresh ``{}`` each is 64 bytes a file)
EMPTY_EXTRA: Mapping[str, Any] = MappingProxyType({})


class Manifest:
    """The immutable map of entry path -> :class:`Entry` of a version.

    Example:
        >>> Manifest({}).digest() == Manifest({}).digest()
        True
    """

    __slots__ = ("_digest", "entries")

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.entries: dict[str, Entry] = dict(entries)
        self._digest: str | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def __contains__(self, path: object) -> bool:
        return path in self.entries

    @property
    def size(self) -> int:
        """Total size in bytes of the entries whose size is known."""
        return sum(e.size or 0 for e in self.entries.values())

    @classmethod
    def adopt(cls, entries: dict[str, Entry]) -> Manifest:
        """A manifest that takes ``entries`` as they are (no copy): for a caller that built the
        dict for it and keeps no reference to it (one dict of a million entries is ~40 MiB).

        Example:
            >>> Manifest.adopt({}).digest() == Manifest({}).digest()
            True
        """
        m = cls.__new__(cls)
        m.entries = entries
        m._digest = None
        return m

    def digest(self) -> str:
        """Canonical digest: BLAKE3 over the sorted entry identities (metadata not included).

        Hashed in batches: the text of a million entries (and its UTF-8 copy) is never held
        at once."""
        if self._digest is None:
            entries = self.entries
            order = sorted(entries)
            h = blake3.blake3(b"artiflow-manifest-v1\n")
            for start in range(0, len(order), _DIGEST_BATCH):
                batch = order[start : start + _DIGEST_BATCH]
                h.update("".join([f"{entries[p].identity()}\n" for p in batch]).encode())
            self._digest = h.hexdigest()
        return self._digest

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the digest and the entries sorted by path."""
        return {
            "digest": self.digest(),
            "entries": [self.entries[p].to_dict() for p in sorted(self.entries)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Inverse of :meth:`to_dict`."""
        return cls({e["path"]: Entry.from_dict(e) for e in data.get("entries", [])})


_claim = claim_path  # TODO(lead): artifact.py still imports the old private name
