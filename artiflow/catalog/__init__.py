"""The registry catalog: tables, migrations and queries over SQLAlchemy.

ORM/Core rows never leave this package: :class:`Catalog` returns frozen records.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> cat.collections()
    []
"""

from ._locks import LockCatalog  # also registers the run-lock tables on the shared metadata
from .catalog import Catalog, CollectionRow, RunRow, VersionRow

__all__ = ["Catalog", "CollectionRow", "LockCatalog", "RunRow", "VersionRow"]
