"""The registry catalog: :class:`Catalog`, one class made of small domain mixins.

Every write runs in one transaction that first locks the collection row (``SELECT … FOR UPDATE``
on PostgreSQL; SQLite write transactions hold the database write lock from ``BEGIN IMMEDIATE``),
so version allocation, alias moves and collaborative upserts are serialised per collection.

Where each domain lives:

* :mod:`._tx` — connections, read/write transactions, whole-transaction retries
* :mod:`._rows` — row → record mapping, the one chunking helper, the ``latest`` subquery
* :mod:`._records` — the frozen records returned (versions, collections, runs, alias events)
* :mod:`._collections`, :mod:`._queries` (resolve), :mod:`._writes`, :mod:`._aliases` (and
  tags), :mod:`._collaborative`, :mod:`._runs`, :mod:`._lineage`, :mod:`._gc`, :mod:`._pages`

Example:
    >>> cat = Catalog.open("sqlite://")
    >>> row, created, moves = cat.commit_version(
    ...     "default", "ds", "dataset", entries=[], digest="d" * 64, size=0)
    >>> (row.index, created)
    (0, True)
"""

from __future__ import annotations

from ._collaborative import CollaborativeMixin
from ._collections import CollectionsMixin
from ._lineage import MAX_LINEAGE_DEPTH, LineageMixin
from ._pages import PagesMixin
from ._records import (
    COMMITTED,
    DELETED,
    PENDING,
    AliasEvent,
    AliasMove,
    CollectionRecord,
    CollectionRow,
    Page,
    RunRecord,
    RunRow,
    VersionRecord,
    VersionRow,
)
from ._runs import RunsMixin
from .engine import create_engine_for
from .migrate import ensure_schema

__all__ = [
    "COMMITTED",
    "DELETED",
    "MAX_LINEAGE_DEPTH",
    "PENDING",
    "AliasEvent",
    "AliasMove",
    "Catalog",
    "CollectionRecord",
    "CollectionRow",
    "Page",
    "RunRecord",
    "RunRow",
    "VersionRecord",
    "VersionRow",
]


class Catalog(CollaborativeMixin, CollectionsMixin, RunsMixin, LineageMixin, PagesMixin):
    """Transactions and queries over the catalog tables.

    The methods come from one mixin per domain (see the module docstring); the class itself
    only opens the catalog."""

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Catalog:
        """Open (and create or upgrade) the catalog at ``url``.

        Example:
            >>> Catalog.open("sqlite://").dialect
            'sqlite'
        """
        engine = create_engine_for(url)
        if migrate:
            ensure_schema(engine)
        return cls(engine)
