"""Collections: lock or create one inside a write, list and count them.

Example:
    >>> from artiflow.catalog import Catalog
    >>> Catalog.open("sqlite://").count_collections()
    0
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from ..exceptions import ConflictError
from ._records import COMMITTED, CollectionRecord
from ._rows import collection_record, now
from ._tx import Transactions
from .models import aliases, collections, versions

__all__ = ["CollectionsMixin", "collection_filters", "get_or_create_collection", "lock_collection"]


def lock_collection(conn: Connection, dialect: str, project: str, name: str) -> Any:
    """The ``collections`` row of ``project/name`` (row-locked on PostgreSQL), or None."""
    q = select(collections).where(collections.c.project == project, collections.c.name == name)
    if dialect == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def get_or_create_collection(
    conn: Connection,
    dialect: str,
    project: str,
    name: str,
    artifact_type: str,
    kind: str = "artifact",
    description: str | None = None,
) -> Any:
    """The locked row of ``project/name``, created when missing; raises :class:`ConflictError`
    when it holds another type or kind."""
    row = lock_collection(conn, dialect, project, name)
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(collections).values(
                        project=project,
                        name=name,
                        type=artifact_type,
                        kind=kind,
                        description=description,
                        created_at=now(),
                        next_index=0,
                    )
                )
        except IntegrityError:
            pass  # created concurrently: lock the winner's row below
        row = lock_collection(conn, dialect, project, name)
    if row.type != artifact_type:
        raise ConflictError(
            f"collection {project}/{name} holds artifacts of type {row.type!r}, not "
            f"{artifact_type!r}: use type={row.type!r} or another name"
        )
    if row.kind != kind:
        what = (
            "a registry collection (use Registry.link)"
            if row.kind == "registry"
            else "an artifact collection"
        )
        raise ConflictError(f"{project}/{name} is {what}; choose another name")
    return row


def collection_filters(
    q: Any,
    *,
    type: str | None = None,
    project: str | None = None,
    name: str | None = None,
    kind: str | None = None,
    search: str | None = None,
    in_details: bool = False,
) -> Any:
    """``q`` restricted to the collections matching every given filter (``search``: text in the
    name or project, and with ``in_details`` in the description or type too)."""
    for column, value in (
        (collections.c.type, type),
        (collections.c.project, project),
        (collections.c.name, name),
        (collections.c.kind, kind),
    ):
        if value is not None:
            q = q.where(column == value)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        columns: list[Any] = [collections.c.name, collections.c.project]
        if in_details:  # the web page's search box: also "project/name", description and type
            columns += [
                collections.c.project + "/" + collections.c.name,
                collections.c.description,
                collections.c.type,
            ]
        q = q.where(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
    return q


class CollectionsMixin(Transactions):
    """Listing collections (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def collection(self, project: str, name: str) -> CollectionRecord | None:
        """One collection, or None."""
        rows = self.collections(project=project, name=name)
        return rows[0] if rows else None

    def collections(
        self,
        *,
        type: str | None = None,
        project: str | None = None,
        name: str | None = None,
        search: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionRecord]:
        """Collections with their number of committed versions, sorted by project and name."""
        counts = (
            select(
                versions.c.collection_id,
                func.count().label("n"),
                func.max(versions.c.idx).label("latest"),
            )
            .where(versions.c.state == COMMITTED)
            .group_by(versions.c.collection_id)
            .subquery()
        )
        q = select(collections, counts.c.n, counts.c.latest).outerjoin(
            counts, counts.c.collection_id == collections.c.id
        )
        q = collection_filters(q, type=type, project=project, name=name, kind=kind, search=search)
        q = q.order_by(collections.c.project, collections.c.name).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return [collection_record(r, r.n, r.latest) for r in conn.execute(q)]

    def collection_facets(self) -> tuple[list[str], list[str]]:
        """The artifact types and the projects present, sorted (two ``DISTINCT`` queries)."""
        with self.read() as conn:
            types = conn.execute(select(collections.c.type).distinct()).scalars()
            projects = conn.execute(select(collections.c.project).distinct()).scalars()
            return sorted(t for t in types if t), sorted(projects)

    def collection_aliases(self, collection_id: int) -> dict[str, int]:
        """Every alias of a collection and the index of the version holding it (one query)."""
        q = (
            select(aliases.c.alias, versions.c.idx)
            .join(versions, versions.c.id == aliases.c.version_id)
            .where(aliases.c.collection_id == collection_id)
            .order_by(aliases.c.alias)
        )
        with self.read() as conn:
            return {alias: idx for alias, idx in conn.execute(q)}

    def count_collections(
        self, *, type: str | None = None, project: str | None = None, search: str | None = None
    ) -> int:
        """How many collections match (for pagination)."""
        q = collection_filters(
            select(func.count()).select_from(collections), type=type, project=project, search=search
        )
        with self.read() as conn:
            return int(conn.execute(q).scalar_one())
