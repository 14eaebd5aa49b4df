"""Frozen records the :class:`~artiflow.Registry` facade returns besides versions and runs.

Example:
    >>> import datetime as dt
    >>> e = AliasEvent("production", "v3", "v2", dt.datetime(2026, 1, 1), None)
    >>> e.version, e["previous"], dict(e)["alias"]
    ('v3', 'v2', 'production')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .catalog import CollectionRow

__all__ = ["AliasEvent", "Collection"]

#: a collection with its version count (what :meth:`Registry.collections` lists)
Collection = CollectionRow


@dataclass(frozen=True, eq=False)  # compares as a mapping: equal to the same dict
class AliasEvent(Mapping[str, Any]):
    """One alias move: ``alias`` put on ``version`` (None: removed) from ``previous`` (None:
    it was not set) at ``at`` by run ``run_id``. Reads as a mapping too (``e["version"]``), as
    :meth:`Registry.alias_history` returned dicts before."""

    alias: str
    version: str | None
    previous: str | None
    at: dt.datetime | None
    run_id: str | None

    @classmethod
    def of(cls, item: Any) -> AliasEvent:
        """A record from a catalog row (a mapping or an object with the same fields)."""
        get = item.get if isinstance(item, Mapping) else lambda k: getattr(item, k, None)
        return cls(str(get("alias")), get("version"), get("previous"), get("at"), get("run_id"))

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    @staticmethod
    def _keys() -> tuple[str, ...]:
        return tuple(f.name for f in fields(AliasEvent))

    def to_dict(self) -> dict[str, Any]:
        """A plain dict."""
        return dict(self)
