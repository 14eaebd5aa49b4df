"""Frozen records the catalog returns: collections, versions, runs, alias moves and events, pages.

ORM/Core rows never leave :mod:`artiflow.catalog`; these value objects do.

Example:
    >>> import datetime as dt
    >>> e = AliasEvent("prod", dt.datetime(2026, 1, 1), None, "v1", None)
    >>> e.to_dict()["version"]
    'v1'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "COMMITTED",
    "DELETED",
    "PENDING",
    "AliasEvent",
    "AliasMove",
    "CollectionRecord",
    "CollectionRow",
    "Page",
    "RunRecord",
    "RunRow",
    "RunSummary",
    "VersionRecord",
    "VersionRow",
    "VersionSummary",
]

PENDING, COMMITTED, DELETED = "PENDING", "COMMITTED", "DELETED"
_T = TypeVar("_T")


@dataclass(frozen=True)
class CollectionRecord:
    """A collection (an artifact name within a project, or a registry collection)."""

    id: int
    project: str
    name: str
    type: str
    kind: str
    description: str | None
    created_at: dt.datetime
    version_count: int = 0
    latest_index: int | None = None


@dataclass(frozen=True)
class VersionRecord:
    """A version as stored, with its aliases and tags."""

    id: int
    collection_id: int
    project: str
    name: str
    type: str
    kind: str
    index: int | None
    digest: str | None
    size: int
    file_count: int
    state: str
    description: str | None
    metadata: dict[str, Any]
    semver: str | None
    distributed_id: str | None
    target_id: int | None
    created_at: dt.datetime
    committed_at: dt.datetime | None
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    is_latest: bool = False
    revision: int = 0  # bumped by every label edit of this version
    alias_seq: int = 0  # newest alias event id of the collection when this row was read

    @property
    def version(self) -> str:
        return f"v{self.index}" if self.index is not None else "pending"

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"


class VersionSummary(NamedTuple):
    """What a lineage node shows of a version (:func:`artiflow.serialize.version_node`): its
    identity, state and aliases (``latest`` first when it is the latest), without metadata,
    tags or description. Built from plain row tuples, a few microseconds each where a
    :class:`VersionRecord` costs tens (a graph of 1,000 consumers reads 1,000 of them)."""

    id: int
    project: str
    name: str
    type: str
    idx: int | None  # ``index`` in a VersionRecord (a tuple has an ``index`` method)
    digest: str | None
    state: str
    aliases: tuple[str, ...]
    created_at: dt.datetime

    @property
    def version(self) -> str:
        return f"v{self.idx}" if self.idx is not None else "pending"

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"


class RunSummary(NamedTuple):
    """What a lineage node shows of a run (:func:`artiflow.serialize.run_node`): a
    :class:`RunRecord` without its ``info`` and ``error``."""

    id: str
    name: str
    orchestrator: str
    pipeline: str | None
    pipeline_run: str | None
    task: str | None
    try_number: int | None
    map_index: int | None
    host: str | None
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


@dataclass(frozen=True)
class RunRecord:
    """A run: one execution that used and logged versions."""

    id: str
    name: str
    orchestrator: str
    pipeline: str | None
    pipeline_run: str | None
    task: str | None
    try_number: int | None
    map_index: int | None
    host: str | None
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class AliasMove:
    """An alias that was set, moved or removed in a transaction."""

    project: str
    name: str
    alias: str
    version_index: int | None
    previous_index: int | None


@dataclass(frozen=True)
class AliasEvent:
    """One recorded alias move of a collection (``version`` None: the alias was removed)."""

    alias: str
    at: dt.datetime
    run_id: str | None
    version: str | None
    previous: str | None

    def to_dict(self) -> dict[str, Any]:
        """The event as the dict :meth:`Catalog.alias_history` has always returned."""
        return {
            "alias": self.alias,
            "at": self.at,
            "run_id": self.run_id,
            "version": self.version,
            "previous": self.previous,
        }


@dataclass(frozen=True)
class Page(Generic[_T]):
    """One page of a listing, read by the database (never by loading every row).

    ``total`` counts every match when ``total_exact``; otherwise counting stopped at ``total``
    (the listing holds at least that many). ``next_cursor`` continues after the last item
    (None on the last page); pass it back as ``cursor=`` for a page that stays stable while
    rows are inserted."""

    items: Sequence[_T]
    total: int
    total_exact: bool = True
    next_cursor: str | None = None
    offset: int = 0


# the names these records had before the catalog was split (kept working)
CollectionRow = CollectionRecord
VersionRow = VersionRecord
RunRow = RunRecord
