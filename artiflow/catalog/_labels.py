"""Label edits as compare-and-set: what a save changes, checked against what its caller loaded.

A save sends only the fields, metadata keys, tags and aliases its caller changed, each with the
value the caller loaded. Inside the write transaction (the collection row locked) each change is
compared with the value stored now:

* stored now == the value the caller loaded: apply the change;
* otherwise someone else changed the same thing since the caller loaded it: ``ConflictError``
  (even when they wrote the caller's new value: two read-modify-write increments of a counter
  must not both land as one).

Tags are set additions/removals and never conflict. An added alias conflicts when an alias event
of that alias was recorded since the caller loaded (``alias_seq``, the newest alias event id of
the collection at load time); a removed alias conflicts when it is no longer on the version.
Everything else merges: two clients editing different keys, fields, tags or aliases
both win. ``expected_revision`` adds a strict precondition (any edit of the version since
``revision`` conflicts), which the web API's ``If-Match`` uses.

Example:
    >>> edit = LabelEdit(revision=3, alias_seq=0, description=("old", "new"))
    >>> edit.is_empty
    False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MISSING", "LabelEdit", "merge_metadata"]


class _Missing:
    def __repr__(self) -> str:
        return "<absent>"


MISSING: Any = _Missing()
"""The value of a metadata key that is not there."""


@dataclass(frozen=True)
class LabelEdit:
    """The changes of one save. ``description`` and each ``metadata`` value are pairs
    ``(loaded, new)``; an absent metadata key is :data:`MISSING`."""

    revision: int
    alias_seq: int
    description: tuple[str | None, str | None] | None = None
    metadata: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()
    aliases_added: tuple[str, ...] = ()
    aliases_removed: tuple[str, ...] = ()
    expected_revision: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when the save changes nothing (it then only re-reads the version)."""
        return not (
            self.description is not None
            or self.metadata
            or self.tags_added
            or self.tags_removed
            or self.aliases_added
            or self.aliases_removed
        )


def merge_metadata(
    current: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]], ref: str
) -> tuple[dict[str, Any], bool]:
    """``current`` with ``changes`` applied key by key: ``(merged, changed)``. Raises
    ``ConflictError`` naming the keys someone else changed since the caller loaded them."""
    from ..exceptions import ConflictError

    merged = dict(current)
    clashes = []
    changed = False
    for key, (loaded, new) in changes.items():
        now = merged.get(key, MISSING)
        if not _same(now, loaded):
            clashes.append(key)
            continue
        changed = True
        if new is MISSING:
            merged.pop(key, None)
        else:
            merged[key] = new
    if clashes:
        keys = ", ".join(repr(k) for k in sorted(clashes))
        raise ConflictError(
            f"{ref}: metadata {keys} changed since you loaded it (someone else saved it); "
            "nothing was saved: reload the version (registry.get) and apply your change again"
        )
    return merged, changed


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)
