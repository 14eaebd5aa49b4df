"""Aliases and tags: set or remove an alias (each with its alias event, in one place), tags,
compare-and-set label edits, the alias history.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> row, _, _ = cat.commit_version("p", "ds", "dataset", entries=[], digest="d" * 64, size=0)
    >>> cat.set_alias(row.id, "prod")[1].alias
    'prod'
    >>> [e.alias for e in cat.alias_events("p", "ds")]
    ['prod']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..exceptions import ArtifactNotFoundError, ConflictError
from ._collections import lock_collection
from ._labels import LabelEdit, merge_metadata
from ._queries import QueriesMixin, collection_id
from ._records import COMMITTED, AliasEvent, AliasMove, VersionRecord
from ._rows import aware, now, version_rows
from ._runs import record_edge
from .models import alias_events, aliases, tags, versions

__all__ = [
    "AliasesMixin",
    "add_tags",
    "bump",
    "label",
    "lock_version",
    "remove_alias",
    "set_alias_in",
]

_AGAIN = "nothing was saved: reload the version (registry.get) and apply your change again"


def lock_version(conn: Connection, dialect: str, version_id: int) -> tuple[VersionRecord, Any]:
    """``(version, its locked collection row)``; the version is re-read under the lock."""
    found = version_rows(conn, versions.c.id == version_id)
    if not found:
        raise ArtifactNotFoundError(f"version id {version_id} does not exist")
    coll = lock_collection(conn, dialect, found[0].project, found[0].name)
    return version_rows(conn, versions.c.id == version_id)[0], coll


def bump(conn: Connection, *version_ids: int | None) -> None:
    """A label of these versions changed: bump their revisions (optimistic concurrency)."""
    ids = [i for i in version_ids if i is not None]
    if ids:
        conn.execute(
            update(versions).where(versions.c.id.in_(ids)).values(revision=versions.c.revision + 1)
        )


def _event(
    conn: Connection,
    coll: Any,
    alias: str,
    to: int | None,
    previous: int | None,
    run_id: str | None,
) -> None:
    conn.execute(
        insert(alias_events).values(
            collection_id=coll.id,
            alias=alias,
            version_id=to,
            previous_version_id=previous,
            run_id=run_id,
            at=now(),
        )
    )


def set_alias_in(
    conn: Connection,
    coll: Any,
    version_id: int,
    version_index: int | None,
    alias: str,
    run_id: str | None,
) -> AliasMove | None:
    """Put ``alias`` on a version of the locked collection ``coll`` and record the event
    (None: it was there already)."""
    current = conn.execute(
        select(aliases.c.id, aliases.c.version_id).where(
            aliases.c.collection_id == coll.id, aliases.c.alias == alias
        )
    ).first()
    previous_index = previous_id = None
    if current is not None:
        if current.version_id == version_id:
            return None
        previous_id = current.version_id
        previous_index = conn.execute(
            select(versions.c.idx).where(versions.c.id == previous_id)
        ).scalar()
        conn.execute(
            update(aliases).where(aliases.c.id == current.id).values(version_id=version_id)
        )
    else:
        conn.execute(
            insert(aliases).values(collection_id=coll.id, alias=alias, version_id=version_id)
        )
    _event(conn, coll, alias, version_id, previous_id, run_id)
    bump(conn, version_id, previous_id)
    return AliasMove(coll.project, coll.name, alias, version_index, previous_index)


def remove_alias(
    conn: Connection, coll: Any, alias: str, row: VersionRecord, run_id: str | None
) -> AliasMove:
    """Take ``alias`` off ``row`` (a version of the locked ``coll``) and record the event."""
    conn.execute(
        delete(aliases).where(aliases.c.collection_id == coll.id, aliases.c.alias == alias)
    )
    _event(conn, coll, alias, None, row.id, run_id)
    return AliasMove(row.project, row.name, alias, None, row.index)


def add_tags(conn: Connection, version_id: int, new_tags: Iterable[str]) -> bool:
    """Add the tags the version does not have yet; True when any was added."""
    new_tags = list(new_tags)
    if not new_tags:
        return False
    have = {t for (t,) in conn.execute(select(tags.c.tag).where(tags.c.version_id == version_id))}
    rows = [{"version_id": version_id, "tag": t} for t in dict.fromkeys(new_tags) if t not in have]
    if rows:
        conn.execute(insert(tags), rows)
        bump(conn, version_id)
    return bool(rows)


def label(
    conn: Connection,
    coll: Any,
    version_id: int,
    index: int | None,
    alias_names: Sequence[str],
    tag_names: Sequence[str],
    run_id: str | None,
    new: bool = False,
) -> list[AliasMove]:
    """Put aliases and tags on a version and record the run that logged it."""
    moves = [
        m
        for alias in alias_names
        if (m := set_alias_in(conn, coll, version_id, index, alias, run_id))
    ]
    add_tags(conn, version_id, tag_names)
    if run_id is not None:
        record_edge(conn, run_id, version_id, "logged", new=new)
    return moves


def _check_expected(
    conn: Connection, coll: Any, row: VersionRecord, alias: str, expected: int | None
) -> None:
    held = conn.execute(
        select(versions.c.idx)
        .join(aliases, aliases.c.version_id == versions.c.id)
        .where(aliases.c.collection_id == coll.id, aliases.c.alias == alias)
    ).first()
    now_index = None if held is None else held.idx
    if now_index != expected and now_index != row.index:
        where = "is not set" if now_index is None else f"is on v{now_index}"
        wanted = "not set" if expected is None else f"on v{expected}"
        raise ConflictError(
            f"{row.project}/{row.name}: alias {alias!r} {where}, not {wanted} as "
            f"expected (someone moved it); it was not moved to {row.version}: check "
            f"`artiflow ls {row.name}` and try again"
        )


def _alias_changes(
    conn: Connection, coll: Any, row: VersionRecord, edit: LabelEdit
) -> tuple[list[str], list[str]]:
    """The aliases to add and remove, checked against their holders now (see LabelEdit)."""
    names = [*edit.aliases_added, *edit.aliases_removed]
    if not names:
        return [], []
    if edit.aliases_added and row.state != COMMITTED:
        raise ArtifactNotFoundError(
            f"{row.ref} is {row.state.lower()}: only committed versions take aliases"
        )
    holders = {
        r.alias: r.idx
        for r in conn.execute(
            select(aliases.c.alias, versions.c.idx)
            .join(versions, versions.c.id == aliases.c.version_id)
            .where(aliases.c.collection_id == coll.id, aliases.c.alias.in_(names))
        )
    }
    moved = {
        a
        for (a,) in conn.execute(
            select(alias_events.c.alias)
            .where(
                alias_events.c.collection_id == coll.id,
                alias_events.c.alias.in_(list(edit.aliases_added) or [""]),
                alias_events.c.id > edit.alias_seq,
            )
            .distinct()
        )
    }
    to_add: list[str] = []
    to_remove: list[str] = []
    clashes: list[str] = []
    for alias in edit.aliases_added:
        (clashes if alias in moved else to_add).append(alias)
    for alias in edit.aliases_removed:
        (to_remove if holders.get(alias, -1) == row.index else clashes).append(alias)
    if clashes:
        said = [
            f"{a!r} ({f'now on v{holders[a]}' if a in holders else 'now removed'})" for a in clashes
        ]
        raise ConflictError(
            f"{row.ref}: alias {', '.join(said)} was moved since you loaded the version "
            f"(someone else moved it); {_AGAIN}"
        )
    return to_add, to_remove


def _field_values(row: VersionRecord, edit: LabelEdit) -> dict[str, Any]:
    """The column values a save changes, checked against what its caller loaded."""
    values: dict[str, Any] = {}
    if edit.description is not None:
        loaded, new = edit.description
        if row.description != loaded:
            raise ConflictError(
                f"{row.ref}: the description changed since you loaded it "
                f"(someone else saved it); {_AGAIN}"
            )
        values["description"] = new
    if edit.metadata:
        merged, changed = merge_metadata(row.metadata, edit.metadata, row.ref)
        if changed:
            values["meta"] = merged
    return values


class AliasesMixin(QueriesMixin):
    """Aliases, tags and label saves (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def set_alias(
        self,
        version_id: int,
        alias: str,
        run_id: str | None = None,
        *,
        expected: int | EllipsisType | None = ...,
    ) -> tuple[VersionRecord, AliasMove | None]:
        """Put ``alias`` on a committed version, moving it from the version that held it.
        ``expected`` (a version index, or None for "not set") makes it a compare-and-set: the
        alias must be there now, else ``ConflictError``; ``...`` (default) moves it from anywhere."""
        with self.write() as conn:
            row, coll = lock_version(conn, self.dialect, version_id)
            if row.state != COMMITTED:
                raise ArtifactNotFoundError(
                    f"{row.ref} is {row.state.lower()}: only committed versions take aliases"
                )
            if expected is not ...:
                _check_expected(conn, coll, row, alias, expected)
            move = set_alias_in(conn, coll, version_id, row.index, alias, run_id)
            return self.version_by_id(version_id, conn), move

    def update_version(
        self, version_id: int, edit: LabelEdit, *, run_id: str | None = None
    ) -> tuple[VersionRecord, list[AliasMove]]:
        """Apply one save's changes (see :mod:`artiflow.catalog._labels`) in one transaction:
        only what the caller changed is written; a change to a field, metadata key or alias
        that someone else changed since the caller loaded it raises ``ConflictError`` and
        nothing is written."""
        with self.write() as conn:
            row, coll = lock_version(conn, self.dialect, version_id)
            if edit.expected_revision is not None and row.revision != edit.expected_revision:
                raise ConflictError(
                    f"{row.ref} is at revision {row.revision}, not {edit.expected_revision}: "
                    f"it was edited since you loaded it; {_AGAIN}"
                )
            if edit.is_empty:
                return row, []
            values = _field_values(row, edit)
            to_add, to_remove = _alias_changes(conn, coll, row, edit)
            # every check passed: write
            changed = bool(values)
            if values:
                conn.execute(update(versions).where(versions.c.id == version_id).values(**values))
            if edit.tags_removed:
                gone = conn.execute(
                    delete(tags).where(
                        tags.c.version_id == version_id, tags.c.tag.in_(list(edit.tags_removed))
                    )
                ).rowcount
                changed = changed or bool(gone)
            add_tags(conn, version_id, edit.tags_added)
            moves = [
                m
                for a in to_add
                if (m := set_alias_in(conn, coll, version_id, row.index, a, run_id))
            ]
            moves += [remove_alias(conn, coll, old, row, run_id) for old in to_remove]
            if changed or to_remove:
                bump(conn, version_id)
            return self.version_by_id(version_id, conn), moves

    def alias_events(
        self,
        project: str,
        name: str,
        limit: int | None = 100,
        offset: int = 0,
        alias: str | None = None,
    ) -> list[AliasEvent]:
        """Alias moves of a collection, newest first, as :class:`AliasEvent` records."""
        v_new = versions.alias("v_new")
        v_old = versions.alias("v_old")
        with self.read() as conn:
            q = (
                select(
                    alias_events.c.alias,
                    alias_events.c.at,
                    alias_events.c.run_id,
                    v_new.c.idx.label("to_idx"),
                    v_old.c.idx.label("from_idx"),
                )
                .outerjoin(v_new, v_new.c.id == alias_events.c.version_id)
                .outerjoin(v_old, v_old.c.id == alias_events.c.previous_version_id)
                .where(alias_events.c.collection_id == collection_id(conn, project, name))
                .order_by(alias_events.c.id.desc())
                .offset(offset)
            )
            if alias is not None:
                q = q.where(alias_events.c.alias == alias)
            if limit is not None:
                q = q.limit(limit)
            return [
                AliasEvent(
                    alias=r.alias,
                    at=aware(r.at),  # type: ignore[arg-type]
                    run_id=r.run_id,
                    version=f"v{r.to_idx}" if r.to_idx is not None else None,
                    previous=f"v{r.from_idx}" if r.from_idx is not None else None,
                )
                for r in conn.execute(q)
            ]

    def alias_history(
        self,
        project: str,
        name: str,
        limit: int | None = 100,
        offset: int = 0,
        alias: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alias moves of a collection, newest first (dicts; see :meth:`alias_events`)."""
        return [e.to_dict() for e in self.alias_events(project, name, limit, offset, alias)]
