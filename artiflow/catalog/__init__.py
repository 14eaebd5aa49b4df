"""The registry catalog: tables, migrations and queries over SQLAlchemy.

ORM/Core rows never leave this package: :class:`Catalog` returns frozen records.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> cat.collections()
    []
"""

from ._locks import LockCatalog  # also registers the run-lock tables on the shared metadata
from .catalog import (
    AliasEvent,
    AliasMove,
    Catalog,
    CollectionRecord,
    CollectionRow,
    Page,
    RunRecord,
    RunRow,
    VersionRecord,
    VersionRow,
)

__all__ = [
    "AliasEvent",
    "AliasMove",
    "Catalog",
    "CollectionRecord",
    "CollectionRow",
    "LockCatalog",
    "Page",
    "RunRecord",
    "RunRow",
    "VersionRecord",
    "VersionRow",
]
