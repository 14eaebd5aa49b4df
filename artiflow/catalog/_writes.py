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

import json
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from ..exceptions import AliasInUseError, ConflictError
from ..manifest import Entry
from ..refs import LATEST
from ._aliases import AliasesMixin, label, lock_version, remove_alias
from ._collections import get_or_create_collection
from ._gc import GCCatalog, GCGuard
from ._records import COMMITTED, DELETED, AliasMove, VersionRecord
from ._rows import current_latest, entry_row, now, version_rows
from .models import alias_events, collections, entries, versions

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


# PostgreSQL: the two statements of a commit, sent in ONE round trip (a psycopg pipeline). The
# first locks the collection row and, only when it found the row, sets a token for this attempt
# (``set_config(..., true)``: transaction-local); the second does its work only under that token,
# so never without the lock (not when the collection was created between the two). Its snapshot
# is taken once the lock is held, so it sees every version committed before: it reads
# ``latest``, and unless the new content equals it allocates the next index and inserts the
# version and its entries. The lock is thus held for the server's work plus one round trip to
# COMMIT (it was held across six, each waking the client: the wait of 16 writers on one
# collection; the version's record is built from the values in hand, not read back).
_PG_LOCK = (
    "SELECT id, type, kind, description, set_config('artiflow.commit', %(token)s, true) "
    "FROM collections WHERE project = %(p)s AND name = %(n)s FOR UPDATE"
)
_PG_COMMIT = """
WITH c AS (
    SELECT id, next_index FROM collections
    WHERE project = %(p)s AND name = %(n)s AND type = %(t)s AND kind = %(k)s
        AND current_setting('artiflow.commit', true) = %(token)s
), l AS (
    SELECT v.id, v.digest, v.idx FROM versions v JOIN c ON v.collection_id = c.id
    WHERE v.state = 'COMMITTED' AND v.idx IS NOT NULL ORDER BY v.idx DESC LIMIT 1
), go AS (
    SELECT c.id, c.next_index FROM c
    WHERE NOT (%(noop)s AND EXISTS (SELECT 1 FROM l WHERE l.digest = %(d)s))
), bump AS (
    UPDATE collections SET next_index = go.next_index + 1,
        description = COALESCE(collections.description, %(cdesc)s)
    FROM go WHERE collections.id = go.id
), t AS (
    SELECT clock_timestamp() AS at  -- the time the lock was held, like idx
), ins AS (
    INSERT INTO versions (collection_id, idx, digest, size, file_count, state, description,
        meta, created_at, committed_at)
    SELECT go.id, go.next_index, %(d)s, %(size)s, %(fc)s, 'COMMITTED', %(desc)s, %(meta)s::json,
        t.at, t.at FROM go, t
    RETURNING id, idx, created_at
), ent AS (
    INSERT INTO entries (version_id, path, digest, size, ref, extra)
    SELECT ins.id, e.path, e.digest, e.size, e.ref, e.extra::json FROM ins,
        unnest(%(paths)s::text[], %(digests)s::text[], %(sizes)s::bigint[], %(refs)s::text[],
               %(extras)s::text[]) AS e(path, digest, size, ref, extra)
)
SELECT (SELECT id FROM ins), (SELECT idx FROM ins), (SELECT created_at FROM ins), l.id, l.digest,
    l.idx,
    (SELECT coalesce(max(a.id), 0) FROM alias_events a WHERE a.collection_id = (SELECT id FROM c))
FROM (SELECT 1) AS one LEFT JOIN l ON true
"""
_PG_INLINE_ENTRIES = 5000  # more are inserted after, in batches (still under the lock)


def _pipelined(conn: Connection, params: dict[str, Any]) -> tuple[Any, Any]:
    """Run :data:`_PG_LOCK` and :data:`_PG_COMMIT` in one round trip; driver errors are raised
    as SQLAlchemy's (a lost connection invalidated), as if SQLAlchemy had run them."""
    import psycopg

    raw = conn.connection.dbapi_connection
    try:
        with raw.pipeline():  # type: ignore[union-attr]
            lock = raw.cursor()  # type: ignore[union-attr]
            lock.execute(_PG_LOCK, params)
            cur = raw.cursor()  # type: ignore[union-attr]
            cur.execute(_PG_COMMIT, params)
        return lock.fetchone(), cur.fetchone()
    except psycopg.Error as exc:
        lost = conn.dialect.is_disconnect(exc, raw, None)  # type: ignore[arg-type]
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            _PG_COMMIT, None, exc, psycopg.Error, connection_invalidated=lost
        ) from exc


def _json(value: Any) -> Any:
    """``value`` as the JSON column hands it back (what a re-read would give)."""
    return json.loads(json.dumps(value))


def _new_record(
    coll: Any,
    vid: int,
    idx: int,
    alias_seq: int,
    *,
    digest: str,
    size: int,
    file_count: int,
    description: str | None,
    metadata: dict[str, Any],
    at: Any,
) -> VersionRecord:
    """The record of a version just committed without aliases or tags, from the values in
    hand (what :func:`read_version` would read back: it is ``latest``, revision 0)."""
    return VersionRecord(
        id=vid,
        collection_id=coll.id,
        project=coll.project,
        name=coll.name,
        type=coll.type,
        kind=coll.kind,
        index=idx,
        digest=digest,
        size=size or 0,
        file_count=file_count,
        state=COMMITTED,
        description=description,
        metadata=dict(metadata),
        semver=None,
        distributed_id=None,
        target_id=None,
        created_at=at,
        committed_at=at,
        aliases=(LATEST,),
        tags=(),
        is_latest=True,
        revision=0,
        alias_seq=alias_seq,
    )


def _pg_commit(
    conn: Connection,
    project: str,
    name: str,
    artifact_type: str,
    kind: str,
    *,
    entries: Sequence[Entry],
    digest: str,
    size: int,
    description: str | None,
    metadata: dict[str, Any],
    noop_if_latest: bool,
) -> tuple[Any, tuple[int, int, int, Any] | None, tuple[int | None, Any]]:
    """The pipelined commit on PostgreSQL: ``(locked collection or None, (version id, index,
    alias_seq, created_at) when one was inserted, (index of latest, latest row) as seen under the lock)``."""
    inline = entries if len(entries) <= _PG_INLINE_ENTRIES else ()
    rows = [entry_row(0, e) for e in inline]
    params = {
        "token": uuid.uuid4().hex,
        "p": project,
        "n": name,
        "t": artifact_type,
        "k": kind,
        "noop": noop_if_latest,
        "d": digest,
        "cdesc": description or None,
        "size": size,
        "fc": len(entries),
        "desc": description,
        "meta": json.dumps(metadata),
        "paths": [r["path"] for r in rows],
        "digests": [r["digest"] for r in rows],
        "sizes": [r["size"] for r in rows],
        "refs": [r["ref"] for r in rows],
        "extras": [None if r["extra"] is None else json.dumps(r["extra"]) for r in rows],
    }
    found, out = _pipelined(conn, params)
    vid, idx, at, l_id, l_digest, l_idx, alias_seq = out
    if found is None:  # the second statement did nothing either (no token was set)
        return None, None, (None, None)
    coll = SimpleNamespace(
        id=found[0], project=project, name=name, type=found[1], kind=found[2], description=found[3]
    )
    latest = None if l_id is None else SimpleNamespace(id=l_id, digest=l_digest, semver=None)
    if vid is None:
        return coll, None, (l_idx, latest)
    if len(inline) < len(entries):
        insert_entries(conn, vid, entries)
    return coll, (vid, idx, int(alias_seq or 0), at), (l_idx, latest)


# SQLite: write transactions are serialised from BEGIN IMMEDIATE on, so the collection and its
# ``latest`` are read in one statement (built once: constructing it per call costs more CPU
# than running it)
_NEWER = versions.alias("newest")
_NEWEST = (
    select(_NEWER.c.id)
    .where(
        _NEWER.c.collection_id == collections.c.id,
        _NEWER.c.state == COMMITTED,
        _NEWER.c.idx.is_not(None),
    )
    .order_by(_NEWER.c.idx.desc())
    .limit(1)
    .correlate(collections)
    .scalar_subquery()
)
_SQLITE_COLLECTION = (
    select(
        collections,
        versions.c.id.label("l_id"),
        versions.c.digest.label("l_digest"),
        versions.c.semver.label("l_semver"),
        versions.c.idx.label("l_idx"),
        select(func.coalesce(func.max(alias_events.c.id), 0))
        .where(alias_events.c.collection_id == collections.c.id)
        .scalar_subquery()
        .label("alias_seq"),
    )
    .select_from(collections.outerjoin(versions, versions.c.id == _NEWEST))
    .where(collections.c.project == bindparam("p"), collections.c.name == bindparam("n"))
)


def _sqlite_collection(conn: Connection, project: str, name: str) -> tuple[Any, Any]:
    """``(collection row with its latest and alias_seq, latest)`` in one statement, or
    ``(None, None)`` when the collection does not exist yet."""
    row = conn.execute(_SQLITE_COLLECTION, {"p": project, "n": name}).first()
    if row is None:
        return None, None
    if row.l_id is None:
        return row, None
    return row, SimpleNamespace(id=row.l_id, digest=row.l_digest, semver=row.l_semver)


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
    meta = _json(metadata or {})
    coll: Any = None
    latest: Any = None
    latest_idx: int | None = None
    alias_seq: int | None = None  # known when the statement that read latest read it too
    # the pipelined path needs psycopg 3's pipeline (psycopg2 takes the general path)
    pipelined = dialect == "postgresql" and conn.dialect.driver == "psycopg"
    if pipelined and semver is None and target_id is None:
        coll, made, (latest_idx, latest) = _pg_commit(
            conn,
            project,
            name,
            artifact_type,
            kind,
            entries=entries,
            digest=digest,
            size=size,
            description=description,
            metadata=meta,
            noop_if_latest=noop_if_latest,
        )
        if made is not None:
            vid, idx, seq, at = made
            return _labelled(
                conn, coll, vid, idx, latest_idx, seq, aliases, tags, run_id, entries, digest,
                size, description, meta, at,
            )  # fmt: skip
        if coll is not None and (coll.type != artifact_type or coll.kind != kind):
            coll = None  # get_or_create_collection says what is wrong
    elif dialect == "sqlite":
        coll, latest = _sqlite_collection(conn, project, name)
        if coll is not None:
            latest_idx, alias_seq = coll.l_idx, int(coll.alias_seq)
            if coll.type != artifact_type or coll.kind != kind:
                coll = None
    if coll is None:
        coll = get_or_create_collection(
            conn, dialect, project, name, artifact_type, kind, description
        )
        latest_idx, latest = latest_of(conn, coll)
        alias_seq = None
    if coll.description is None and description:
        conn.execute(
            update(collections).where(collections.c.id == coll.id).values(description=description)
        )
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
            meta=meta,
            semver=semver,
            target_id=target_id,
            created_at=at,
            committed_at=at,
        )
        .returning(versions.c.id)
    ).scalar_one()
    if target_id is None:
        insert_entries(conn, vid, entries)
    if alias_seq is None or semver is not None or target_id is not None:
        moves = [AliasMove(project, name, LATEST, idx, latest_idx)]
        moves += label(conn, coll, vid, idx, aliases, tags, run_id, new=True)
        # a new version holds exactly the labels just put on it: none to look up when none were
        unlabelled = not aliases and not tags
        return read_version(conn, vid, unlabelled), True, moves
    return _labelled(
        conn, coll, vid, idx, latest_idx, alias_seq, aliases, tags, run_id, entries, digest, size,
        description, meta, at,
    )  # fmt: skip


def _labelled(
    conn: Connection,
    coll: Any,
    vid: int,
    idx: int,
    latest_idx: int | None,
    alias_seq: int,
    aliases: Sequence[str],
    tags: Sequence[str],
    run_id: str | None,
    entries: Sequence[Entry],
    digest: str,
    size: int,
    description: str | None,
    meta: dict[str, Any],
    at: Any,
) -> Commit:
    """A version just inserted (no semver, not a link): label it; its record is built from the
    values in hand when it has no aliases or tags, else read back."""
    moves = [AliasMove(coll.project, coll.name, LATEST, idx, latest_idx)]
    moves += label(conn, coll, vid, idx, aliases, tags, run_id, new=True)
    if aliases or tags:
        return read_version(conn, vid), True, moves
    record = _new_record(
        coll,
        vid,
        idx,
        alias_seq,
        digest=digest,
        size=size,
        file_count=len(entries),
        description=description,
        metadata=meta,
        at=at,
    )
    return record, True, moves


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
