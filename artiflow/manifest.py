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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import blake3

from .exceptions import InvalidPathError

__all__ = ["Entry", "Manifest", "normalize_path"]


def normalize_path(name: object) -> str:
    """Check an entry path and return it; raise :class:`InvalidPathError` if unsafe.

    Entry paths are relative POSIX paths: no ``..``, ``.``, absolute paths, empty segments, NUL
    or backslashes.

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
            if why:
                break
    if why:
        raise InvalidPathError(f"invalid entry path {name!r}: {why}")
    return name


@dataclass(frozen=True)
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
    def is_reference(self) -> bool:
        """True when the content lives outside the store (``add_reference``)."""
        return self.ref is not None

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
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        """Inverse of :meth:`to_dict`."""
        return cls(
            path=data["path"],
            digest=data.get("digest"),
            size=data.get("size"),
            ref=data.get("ref"),
            extra=dict(data.get("extra") or {}),
        )

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
        base: Path = self._version._download_entries([self], root)
        return base / self.path


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

    def digest(self) -> str:
        """Canonical digest: BLAKE3 over the sorted entry identities (metadata not included)."""
        if self._digest is None:
            entries = self.entries
            text = "".join([f"{entries[p].identity()}\n" for p in sorted(entries)])
            self._digest = blake3.blake3(b"artiflow-manifest-v1\n" + text.encode()).hexdigest()
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
