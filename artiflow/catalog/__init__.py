"""The registry catalog: tables, migrations and queries over SQLAlchemy.

ORM/Core rows never leave this package: :class:`Catalog` returns frozen records.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> cat.collections()
    []

Besides :class:`Catalog`, the verbs in :mod:`artiflow._ops` use a few building blocks from
here (never the private modules they live in): the label edit of a save (:class:`LabelEdit`,
:data:`MISSING`), the gc guard (:class:`GCGuard`, :class:`BlobsGone`), the retry backoff
(:func:`backoff`), the run-lock records (:class:`LockRow`, :class:`ReplayRow`), the upstream
closure of a version (:func:`upstream_closure`) and the lineage-control tables and queries
(:mod:`control_sql <artiflow.catalog._control>`).
"""

from . import _control as control_sql
from ._closure import upstream_closure
from ._gc import BlobsGone, GCGuard
from ._labels import MISSING, LabelEdit
from ._locks import (  # also registers the run-lock tables on the shared metadata
    LockCatalog,
    LockRow,
    ReplayRow,
)
from ._retry import backoff
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
    "MISSING",
    "AliasEvent",
    "AliasMove",
    "BlobsGone",
    "Catalog",
    "CollectionRecord",
    "CollectionRow",
    "GCGuard",
    "LabelEdit",
    "LockCatalog",
    "LockRow",
    "Page",
    "ReplayRow",
    "RunRecord",
    "RunRow",
    "VersionRecord",
    "VersionRow",
    "backoff",
    "control_sql",
    "upstream_closure",
]
