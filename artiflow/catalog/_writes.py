"""Writing versions: commit one or several in one transaction, delete.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> row, created, moves = cat.commit_version(
    ...     "default", "ds", "dataset", entries=[], digest="d" * 64, size=0)
    >>> (row.index, created, moves[0].alias)
    (0, True, 'latest')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..exceptions import AliasInUseError, ConflictError
from ..manifest import Entry
from ..refs import LATEST
from ._aliases import AliasesMixin, label, lock_version, remove_alias
from ._collections import get_or_create_collection
from ._gc import GCCatalog, GCGuard
from ._records import COMMITTED, DELETED, AliasMove, VersionRecord
from ._rows import current_latest, entry_row, now, version_rows
from .models import collections, entries, versions

__all__ = [
    "WritesMixin",
    "allocate_index",
    "check_semver",
    "commits_landed",
    "insert_entries",
    "latest_of",
    "read_version",
]

Commit = tuple[VersionRecord, bool, list[AliasMove]]


def read_version(conn: Connection, version_id: int, unlabelled: bool = False) -> VersionRecord:
    """The version ``version_id`` as seen inside ``conn``'s transaction (``unlabelled``: it is
    known to have no aliases or tags, so they are not looked up)."""
    return version_rows(conn, versions.c.id == version_id, unlabelled=unlabelled)[0]


def commits_landed(conn: Connection, results: Sequence[Commit]) -> bool:
    """Whether the versions a :meth:`Catalog.commit_many` attempt created are committed (the
    attempt was one transaction: one of them tells for all). An attempt that created none only
    moved labels: repeating it is harmless, so it counts as not landed."""
    created = [row for row, was_created, _ in results if was_created]
    if not created:
        return False
    row = created[0]
    found = conn.execute(
        select(versions.c.id).where(
            versions.c.id == row.id,
            versions.c.collection_id == row.collection_id,
            versions.c.idx == row.index,
            versions.c.digest == row.digest,
        )
    ).first()
    return found is not None


def insert_entries(conn: Connection, version_id: int, items: Sequence[Entry]) -> None:
    """Insert the entries of a version (in batches of 5,000 rows)."""
    rows = [entry_row(version_id, e) for e in items]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(entries), rows[start : start + 5000])


def latest_of(conn: Connection, coll: Any) -> tuple[int | None, Any]:
    """``(index of latest, its row (id, digest, semver))`` of a locked collection, in ONE
    statement (an index scan of ``ix_versions_collection_state_idx``: this runs under the
    collection's row lock, where every round trip delays the writers queued behind it)."""
    row = conn.execute(
        select(versions.c.id, versions.c.digest, versions.c.semver, versions.c.idx)
        .where(
            versions.c.collection_id == coll.id,
            versions.c.state == COMMITTED,
            versions.c.idx.is_not(None),
        )
        .order_by(versions.c.idx.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, None
    return int(row.idx), row


def allocate_index(conn: Connection, coll: Any) -> int:
    """The next version index of a locked collection (never reused, even after deletes)."""
    idx = int(coll.next_index)
    conn.execute(update(collections).where(collections.c.id == coll.id).values(next_index=idx + 1))
    return idx


def check_semver(conn: Connection, coll: Any, semver: str) -> None:
    """Raise :class:`ConflictError` when a live version of ``coll`` has ``semver`` already."""
    taken = conn.execute(
        select(versions.c.idx).where(
            versions.c.collection_id == coll.id,
            versions.c.semver == semver,
            versions.c.state != DELETED,
        )
    ).first()
    if taken is not None:
        raise ConflictError(
            f"{coll.project}/{coll.name} already has version {semver} (v{taken.idx}); "
            "semantic versions are unique per collection: pick the next one"
        )


def _file_count(conn: Connection, version_id: int) -> int:
    value = conn.execute(select(versions.c.file_count).where(versions.c.id == version_id)).scalar()
    return int(value or 0)


def _commit(
    conn: Connection,
    dialect: str,
    project: str,
    name: str,
    artifact_type: str,
    *,
    entries: Sequence[Entry],
    digest: str,
    size: int,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    aliases: Sequence[str] = (),
    tags: Sequence[str] = (),
    semver: str | None = None,
    run_id: str | None = None,
    kind: str = "artifact",
    target_id: int | None = None,
    noop_if_latest: bool = True,
) -> Commit:
    """Commit a new version inside ``conn``'s transaction (see :meth:`commit_version`)."""
    coll = get_or_create_collection(conn, dialect, project, name, artifact_type, kind, description)
    if coll.description is None and description:
        conn.execute(
            update(collections).where(collections.c.id == coll.id).values(description=description)
        )
    latest_idx, latest = latest_of(conn, coll)
    if (
        noop_if_latest
        and latest is not None
        and latest.digest == digest
        and (semver is None or latest.semver in (None, semver))
    ):
        if semver is not None and latest.semver is None:
            check_semver(conn, coll, semver)
            conn.execute(update(versions).where(versions.c.id == latest.id).values(semver=semver))
        moves = label(conn, coll, latest.id, latest_idx, aliases, tags, run_id)
        return read_version(conn, latest.id), False, moves
    if semver is not None:
        check_semver(conn, coll, semver)
    idx = allocate_index(conn, coll)
    at = now()
    vid = conn.execute(
        insert(versions)
        .values(
            collection_id=coll.id,
            idx=idx,
            digest=digest,
            size=size,
            file_count=len(entries) if target_id is None else _file_count(conn, target_id),
            state=COMMITTED,
            description=description,
            meta=metadata or {},
            semver=semver,
            target_id=target_id,
            created_at=at,
            committed_at=at,
        )
        .returning(versions.c.id)
    ).scalar_one()
    if target_id is None:
        insert_entries(conn, vid, entries)
    moves = [AliasMove(project, name, LATEST, idx, latest_idx)]
    moves += label(conn, coll, vid, idx, aliases, tags, run_id, new=True)
    # a new version holds exactly the labels just put on it: none to look up when none were
    unlabelled = not aliases and not tags
    return read_version(conn, vid, unlabelled), True, moves


class WritesMixin(AliasesMixin, GCCatalog):
    """Committing and deleting versions (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def commit_version(self, project: str, name: str, type_: str, **options: Any) -> Commit:
        """Commit a new version in one transaction, or return ``latest`` when its digest equals
        ``digest``. ``options``: entries, digest, size, description, metadata, aliases, tags,
        semver, run_id, kind, target_id, noop_if_latest. Returns ``(version, created, alias
        moves)``."""
        return self.commit_many([{"project": project, "name": name, "type": type_, **options}])[0]

    def commit_many(
        self, items: Sequence[dict[str, Any]], gc_guard: GCGuard | None = None
    ) -> list[Commit]:
        """Commit several versions (each a dict of :meth:`commit_version`'s arguments, the type
        under ``"type"`` or ``"type_"``) in ONE transaction: all of them or none. Collections
        are locked in (project, name) order, so concurrent multi-output commits cannot deadlock.
        With ``gc_guard``, a concurrent gc cannot have deleted a blob the versions need
        (:meth:`gc_check`)."""
        order = sorted(range(len(items)), key=lambda i: (items[i]["project"], items[i]["name"]))

        def body(conn: Connection) -> list[Commit]:
            results: list[Any] = [None] * len(items)
            if gc_guard is not None:
                self.gc_check(conn, gc_guard, (e for it in items for e in it["entries"]))
            for i in order:
                kw = dict(items[i])
                artifact_type = kw.pop("type") if "type" in kw else kw.pop("type_")
                project, name = kw.pop("project"), kw.pop("name")
                results[i] = _commit(conn, self.dialect, project, name, artifact_type, **kw)
            return results

        # retried whole while the database restarts; a COMMIT whose answer was lost is
        # looked up instead of repeated, so a version is never committed twice
        return self.write_retrying(body, landed=commits_landed)

    def delete_version(
        self, version_id: int, *, delete_aliases: bool = False
    ) -> tuple[VersionRecord, list[AliasMove]]:
        """Mark a version DELETED (lineage rows stay). Raises if it holds user aliases."""
        with self.write() as conn:
            row, coll = lock_version(conn, self.dialect, version_id)
            if row.state == DELETED:
                return row, []
            user_aliases = [a for a in row.aliases if a != LATEST]
            if user_aliases and not delete_aliases:
                raise AliasInUseError(
                    f"{row.ref} holds aliases {', '.join(user_aliases)}; move them first or call "
                    "delete(delete_aliases=True)"
                )
            moves = [remove_alias(conn, coll, alias, row, None) for alias in user_aliases]
            conn.execute(
                update(versions)
                .where(versions.c.id == version_id)
                .values(state=DELETED, deleted_at=now())
            )
            if row.is_latest:
                latest = current_latest(conn, coll.id)
                moves.append(AliasMove(row.project, row.name, LATEST, latest, row.index))
            return read_version(conn, version_id), moves
