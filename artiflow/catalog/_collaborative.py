"""Collaborative versions: writers upsert parts into one PENDING version, one of them finishes
it (gc removes a pending version left without upserts, leaving a tombstone).

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> vid = cat.upsert("p", "ds", "dataset", "run-1", [])
    >>> row, created, _ = cat.finish("p", "ds", "dataset", "run-1", [])
    >>> (row.id == vid, row.index, created)
    (True, 0, True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..exceptions import ArtifactFinalizedError, ConflictError
from ..manifest import Entry, Manifest
from ..refs import LATEST
from ._aliases import label
from ._collections import get_or_create_collection, lock_collection
from ._gc import GCGuard
from ._records import COMMITTED, PENDING, AliasMove, VersionRecord
from ._rows import ENTRY_COLUMNS, aware, chunks, entries_of, now
from ._writes import (
    WritesMixin,
    allocate_index,
    check_semver,
    insert_entries,
    latest_of,
    read_version,
)
from .models import entries, pending_tombstones, versions

__all__ = ["CollaborativeMixin", "raise_if_collected"]


def _pending(
    conn: Connection, dialect: str, coll: Any, distributed_id: str, lock: bool = False
) -> Any:
    q = select(versions.c.id, versions.c.state, versions.c.idx).where(
        versions.c.collection_id == coll.id, versions.c.distributed_id == distributed_id
    )
    if lock and dialect == "postgresql":  # waits for a gc removing it right now
        q = q.with_for_update()
    return conn.execute(q).first()


def raise_if_collected(conn: Connection, coll: Any, distributed_id: str, who: str) -> None:
    """Raise :class:`ConflictError` when gc removed the pending version ``distributed_id``
    (its parts are gone: committing what is left would be a partial version)."""
    gone = conn.execute(
        select(pending_tombstones.c.collected_at, pending_tombstones.c.last_upsert_at).where(
            pending_tombstones.c.collection_id == coll.id,
            pending_tombstones.c.distributed_id == distributed_id,
        )
    ).first()
    if gone is not None:
        last = aware(gone.last_upsert_at)
        raise ConflictError(
            f"{who} was removed by gc at {aware(gone.collected_at):%Y-%m-%d %H:%M:%S} UTC "
            f"(no upsert since {last:%Y-%m-%d %H:%M:%S} UTC, longer than the grace period): "
            "the parts upserted before are gone, so it cannot be finished. Upsert every "
            "part again under a new distributed_id (or raise ARTIFLOW_PENDING_GRACE_SECONDS)"
            if last is not None
            else f"{who} was removed by gc; upsert every part again under a new distributed_id"
        )


def _merge_entries(conn: Connection, vid: int, items: Sequence[Entry], who: str) -> None:
    if not items:
        return
    existing: dict[str, Entry] = {}
    for chunk in chunks([e.path for e in items]):
        rows = conn.execute(
            select(*ENTRY_COLUMNS).where(entries.c.version_id == vid, entries.c.path.in_(chunk))
        ).all()
        existing.update(entries_of(rows))
    new = []
    for e in items:
        old = existing.get(e.path)
        if old is None:
            new.append(e)
        elif old.identity() != e.identity():
            raise ConflictError(
                f"{who}: entry {e.path!r} was already added with different content by another "
                "writer; give each writer its own paths"
            )
    insert_entries(conn, vid, new)


def _create_pending(
    conn: Connection, coll: Any, distributed_id: str, values: dict[str, Any]
) -> int:
    """Insert the PENDING version (``IntegrityError``: another writer created it meanwhile)."""
    with conn.begin_nested():
        return int(
            conn.execute(
                insert(versions)
                .values(
                    collection_id=coll.id,
                    idx=None,
                    state=PENDING,
                    distributed_id=distributed_id,
                    **values,
                )
                .returning(versions.c.id)
            ).scalar_one()
        )


def _touch_pending(
    conn: Connection,
    coll: Any,
    pending: Any,
    distributed_id: str,
    metadata: dict[str, Any] | None,
    at: dt.datetime,
    who: str,
) -> int:
    """Merge ``metadata`` into the existing PENDING version and age it from ``at``."""
    if pending.state != PENDING:
        raise ArtifactFinalizedError(
            f"{who} was already finished as v{pending.idx}; use a new distributed_id"
        )
    values: dict[str, Any] = {"last_upsert_at": at}  # pending versions age by it
    if metadata:
        meta = conn.execute(select(versions.c.meta).where(versions.c.id == pending.id)).scalar()
        values["meta"] = {**(meta or {}), **metadata}
    touched = conn.execute(
        update(versions)
        .where(versions.c.id == pending.id, versions.c.state == PENDING)
        .values(**values)
    ).rowcount
    if not touched:  # gc removed it (PostgreSQL: after we read it) or it was finished
        raise_if_collected(conn, coll, distributed_id, who)
        raise ArtifactFinalizedError(f"{who} was already finished; use a new distributed_id")
    return int(pending.id)


class CollaborativeMixin(WritesMixin):
    """Collaborative versions (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def upsert(
        self,
        project: str,
        name: str,
        type_: str,
        distributed_id: str,
        items: Sequence[Entry],
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        gc_guard: GCGuard | None = None,
    ) -> int:
        """Add entries to the PENDING version ``distributed_id``, creating it. Returns its id.
        Raises :class:`ConflictError` when gc removed that version (see :meth:`finish`)."""
        who = f"{project}/{name} (distributed_id={distributed_id!r})"
        with self.write() as conn:
            if gc_guard is not None:
                self.gc_check(conn, gc_guard, items)
            coll = get_or_create_collection(conn, self.dialect, project, name, type_)
            pending = _pending(conn, self.dialect, coll, distributed_id)
            at = now()
            vid: int | None = None
            if pending is None:
                raise_if_collected(conn, coll, distributed_id, who)
                fresh = {"description": description, "meta": metadata or {}}
                try:
                    vid = _create_pending(
                        conn,
                        coll,
                        distributed_id,
                        {**fresh, "created_at": at, "last_upsert_at": at},
                    )
                except IntegrityError:  # created concurrently: add to the winner's version
                    pending = _pending(conn, self.dialect, coll, distributed_id)
                    if pending is None:  # ... which gc removed already
                        raise_if_collected(conn, coll, distributed_id, who)
                        raise
            if vid is None:
                vid = _touch_pending(conn, coll, pending, distributed_id, metadata, at, who)
            _merge_entries(conn, vid, items, who)
            return vid

    def finish(
        self,
        project: str,
        name: str,
        type_: str,
        distributed_id: str,
        items: Sequence[Entry],
        *,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        aliases: Sequence[str] = (),
        tags: Sequence[str] = (),
        semver: str | None = None,
        run_id: str | None = None,
        gc_guard: GCGuard | None = None,
    ) -> tuple[VersionRecord, bool, list[AliasMove]]:
        """Commit the PENDING version ``distributed_id`` (adding ``items`` first). Never commits
        fewer parts than were upserted: when gc removed the pending version (no upsert for
        longer than the grace period), raises :class:`ConflictError` naming the distributed id."""
        who = f"{project}/{name} (distributed_id={distributed_id!r})"
        vid = self.upsert(
            project, name, type_, distributed_id, items, description, metadata, gc_guard=gc_guard
        )
        with self.write() as conn:
            coll = lock_collection(conn, self.dialect, project, name)
            pending = _pending(conn, self.dialect, coll, distributed_id, lock=True)
            if pending is None:
                raise_if_collected(conn, coll, distributed_id, who)
            if pending is None or pending.state != PENDING:
                raise ArtifactFinalizedError(
                    f"{who} was already finished; use a new distributed_id"
                )
            all_entries = entries_of(
                conn.execute(select(*ENTRY_COLUMNS).where(entries.c.version_id == vid)).all()
            )
            manifest = Manifest(all_entries)
            digest = manifest.digest()
            latest_idx, latest = latest_of(conn, coll)
            if latest is not None and latest.digest == digest:
                conn.execute(delete(entries).where(entries.c.version_id == vid))
                conn.execute(delete(versions).where(versions.c.id == vid))
                moves = label(conn, coll, latest.id, latest_idx, aliases, tags, run_id)
                return read_version(conn, latest.id), False, moves
            if semver is not None:
                check_semver(conn, coll, semver)
            idx = allocate_index(conn, coll)
            values: dict[str, Any] = {
                "idx": idx,
                "state": COMMITTED,
                "digest": digest,
                "size": manifest.size,
                "file_count": len(all_entries),
                "committed_at": now(),
                "semver": semver,
            }
            if description is not None:
                values["description"] = description
            conn.execute(update(versions).where(versions.c.id == vid).values(**values))
            moves = [AliasMove(project, name, LATEST, idx, latest_idx)]
            moves += label(conn, coll, vid, idx, aliases, tags, run_id)
            return read_version(conn, vid), True, moves

    def remove_stale_pending(self, older_than: dt.datetime) -> int:
        """Delete PENDING versions (never visible) whose LAST upsert is older than
        ``older_than``, leaving a tombstone so that a later ``upsert``/``finish`` of the same
        distributed id raises :class:`ConflictError` instead of committing a partial version."""
        last = func.coalesce(versions.c.last_upsert_at, versions.c.created_at)
        q = select(
            versions.c.id,
            versions.c.collection_id,
            versions.c.distributed_id,
            versions.c.created_at,
            versions.c.last_upsert_at,
        ).where(versions.c.state == PENDING, last < older_than)
        if self.dialect == "postgresql":  # an upsert in flight wins: the row is re-checked
            q = q.with_for_update()
        with self.write() as conn:
            rows = conn.execute(q).all()
            at = now()
            for r in rows:
                key = (
                    pending_tombstones.c.collection_id == r.collection_id,
                    pending_tombstones.c.distributed_id == r.distributed_id,
                )
                conn.execute(delete(pending_tombstones).where(*key))
                conn.execute(
                    insert(pending_tombstones).values(
                        collection_id=r.collection_id,
                        distributed_id=r.distributed_id,
                        created_at=r.created_at,
                        last_upsert_at=r.last_upsert_at or r.created_at,
                        collected_at=at,
                    )
                )
            for chunk in chunks([r.id for r in rows]):
                conn.execute(delete(entries).where(entries.c.version_id.in_(chunk)))
                conn.execute(delete(versions).where(versions.c.id.in_(chunk)))
            return len(rows)
