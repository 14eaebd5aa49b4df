"""What a draft holds at each entry path, and the small checks adding to a draft uses.

A path maps to a :class:`LocalSource` (a local file, hashed at log time), a
:class:`ReferenceSource` (content outside the store, resolved at log time) or an
:class:`~artiflow.manifest.Entry` carried over from the version a patch draft started from.

Example:
    >>> parents_of("a/b/c.csv"), default_name("s3://bucket/raw/"), split_name("team/model")
    (['a', 'a/b'], 'raw', ('team', 'model'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidRefError
from ..hashing import hash_file
from ..limits import validate_json, validate_text
from ..manifest import Entry
from ..refs import validate_name

__all__ = [
    "LocalSource",
    "ReferenceSource",
    "Source",
    "asset_of",
    "default_name",
    "inside",
    "label_list",
    "parents_of",
    "same_content",
    "split_name",
]


@dataclass(frozen=True)
class LocalSource:
    """A local file to be stored (hashed at log time, or known from a previous version)."""

    path: str  # absolute local path


@dataclass(frozen=True)
class ReferenceSource:
    """A reference to content outside the store, resolved at log time."""

    uri: str
    checksum: bool = True
    max_objects: int | None = None


Source = LocalSource | ReferenceSource | Entry


def split_name(name: str) -> tuple[str | None, str]:
    if not isinstance(name, str):
        raise InvalidRefError(
            f"invalid artifact name {name!r}: give a string such as 'bike-dataset'"
        )
    if "/" in name:
        project, _, bare = name.partition("/")
        return validate_name(project, "project"), validate_name(bare, "artifact name")
    if ":" in name:
        raise InvalidRefError(
            f"invalid artifact name {name!r}: a draft has no selector; log it and pass aliases=[...]"
        )
    return None, validate_name(name, "artifact name")


def label_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())


def default_name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] or "reference"


def asset_of(
    metadata: dict[str, Any] | None, asset_type: str | None
) -> tuple[dict[str, Any], str | None] | None:
    """An entry's own metadata and asset type, validated (None: the entry has neither)."""
    meta = validate_json("asset metadata", metadata)
    if asset_type is not None:
        if not isinstance(asset_type, str) or not asset_type.strip():
            raise InvalidRefError(
                f"invalid asset_type {asset_type!r}: give a non-empty string like 'model-element'"
            )
        validate_text("type", asset_type)
    return (meta, asset_type) if meta or asset_type is not None else None


def parents_of(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def same_content(a: Source, b: Source) -> bool:
    if isinstance(a, LocalSource) and isinstance(b, LocalSource):
        if os.path.realpath(a.path) == os.path.realpath(b.path):
            return True
        if os.path.getsize(a.path) != os.path.getsize(b.path):
            return False
        return hash_file(a.path)[0] == hash_file(b.path)[0]
    if isinstance(a, Entry) and isinstance(b, LocalSource):
        return a.ref is None and a.digest == hash_file(b.path)[0]
    if isinstance(b, Entry) and isinstance(a, LocalSource):
        return same_content(b, a)
    return False
