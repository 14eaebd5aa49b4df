"""Tables and queries of lineage control: quarantines, checks, protected aliases, alias audit.

The graph walks go level by level (one round trip per level and direction, IN lists chunked
by 500), the same SQL on SQLite and PostgreSQL:

* a *downstream step* of a version ``s`` is a run that consumed ``s`` (``run_io`` ``used``)
  and the versions that run logged, or a registry member linking ``s`` (``target_id``);
* an *upstream step* is the reverse (what the runs that logged it consumed; a member's target).

Rows never leave :mod:`artiflow.catalog`: every function returns plain tuples or dicts.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> with cat.read() as conn:
    ...     active_quarantines(conn, [1])
    {}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.sql import literal

from .models import aliases, collections, metadata, run_io, versions

__all__ = [
    "active_quarantines",
    "alias_audit",
    "alias_protections",
    "any_active_quarantine",
    "checks_of",
    "consumed_through",
    "consumed_via",
    "downstream_steps",
    "downstream_walk",
    "insert_audit",
    "insert_check",
    "insert_quarantine",
    "insert_via",
    "protection_of",
    "quarantine_history",
    "quarantines",
    "release_quarantine",
    "set_protection",
    "upstream_steps",
    "used_by_runs",
    "version_checks",
]

_CHUNK = 500

quarantines = Table(
    "quarantines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("quarantined_by", Text),
    Column("quarantined_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True)),  # NULL while the quarantine is active
    Column("released_by", Text),
    Column("release_note", Text),
    # the newest version id quarantine_taints covers for it (0: none, walk everything)
    Column("watermark", Integer, nullable=False, server_default="0"),
    Index("ix_quarantines_version", "version_id", "released_at"),
    Index("ix_quarantines_active", "released_at"),
    # the active quarantines in watermark order: the smallest one in one probe (partial index)
    Index(
        "ix_quarantines_active_mark",
        "watermark",
        postgresql_where=text("released_at IS NULL"),
        sqlite_where=text("released_at IS NULL"),
    ),
)

quarantine_taints = Table(
    "quarantine_taints",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("quarantine_id", Integer, ForeignKey("quarantines.id"), primary_key=True),
    Column("depth", Integer, nullable=False),  # steps downstream of the quarantined version
    Index("ix_quarantine_taints_quarantine", "quarantine_id"),
)

alias_freshness = Table(
    "alias_freshness",
    metadata,
    Column("collection_id", Integer, ForeignKey("collections.id"), primary_key=True),
    Column("alias", Text, primary_key=True),
    Column("max_age", Integer, nullable=False),  # seconds
    Column("set_by", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    # the version the alias was on when it was last announced overdue (once per version)
    Column("overdue_version_id", Integer),
    Column("overdue_at", DateTime(timezone=True)),
)

version_checks = Table(
    "version_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("details", JSON(none_as_null=True)),
    Column("recorded_by", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_version_checks_version", "version_id", "name"),
)

alias_protections = Table(
    "protected_aliases",
    metadata,
    Column("collection_id", Integer, ForeignKey("collections.id"), primary_key=True),
    Column("alias", Text, primary_key=True),
    Column("require_checks", JSON, nullable=False),
    Column("require_clean_upstream", Boolean, nullable=False),
    Column("protected_by", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)

alias_audit = Table(
    "promotion_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id"), nullable=False),
    Column("alias", Text, nullable=False),
    Column("version_id", Integer, ForeignKey("versions.id")),
    Column("moved_by", Text),
    Column("via", Text),
    Column("evidence", JSON(none_as_null=True)),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_promotion_audit_collection", "collection_id", "alias", "id"),
)


consumed_via = Table(
    "consumed_via",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Text, nullable=False),  # runs.id (no FK: a copy, like alias_events.run_id)
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("collection_id", Integer, ForeignKey("collections.id"), nullable=False),
    Column("alias", Text, nullable=False),  # the alias the run resolved (``latest`` included)
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_consumed_via_run", "run_id"),
)


def now() -> dt.datetime:
    """The current UTC time (what every control row records)."""
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = list(ids)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# ---- the graph -------------------------------------------------------------------------------
_USED, _LOGGED = run_io.alias("u"), run_io.alias("l")
_IDS: Any = bindparam("ids", expanding=True)
_DOWN = union_all(
    select(_USED.c.version_id, _USED.c.run_id, _LOGGED.c.version_id.label("dst"))
    .join(_LOGGED, and_(_LOGGED.c.run_id == _USED.c.run_id, _LOGGED.c.direction == "logged"))
    .where(_USED.c.direction == "used", _USED.c.version_id.in_(_IDS)),
    select(versions.c.target_id, literal(None).label("run_id"), versions.c.id).where(
        versions.c.target_id.in_(_IDS)
    ),
)
_UP = union_all(
    select(_LOGGED.c.version_id, _LOGGED.c.run_id, _USED.c.version_id.label("src"))
    .join(_USED, and_(_USED.c.run_id == _LOGGED.c.run_id, _USED.c.direction == "used"))
    .where(_LOGGED.c.direction == "logged", _LOGGED.c.version_id.in_(_IDS)),
    select(versions.c.id, literal(None).label("run_id"), versions.c.target_id).where(
        versions.c.id.in_(_IDS), versions.c.target_id.is_not(None)
    ),
)


# PostgreSQL: one array parameter (no IN list to compile), and LATERAL index lookups per
# version: with a join the planner may hash all of run_io's produced edges (a sequential scan of
# millions of rows) to serve a few hundred versions.
_PG_DOWN = text(
    """
    SELECT s.v, u.run_id, l.version_id
    FROM unnest(CAST(:ids AS INTEGER[])) AS s(v)
    CROSS JOIN LATERAL (
        SELECT run_id FROM run_io WHERE version_id = s.v AND direction = 'used'
    ) u
    CROSS JOIN LATERAL (
        SELECT version_id FROM run_io WHERE run_id = u.run_id AND direction = 'logged'
    ) l
    UNION ALL
    SELECT target_id, NULL, id FROM versions WHERE target_id = ANY(CAST(:ids AS INTEGER[]))
    """
)
_PG_UP = text(
    """
    SELECT s.v, l.run_id, u.version_id
    FROM unnest(CAST(:ids AS INTEGER[])) AS s(v)
    CROSS JOIN LATERAL (
        SELECT run_id FROM run_io WHERE version_id = s.v AND direction = 'logged'
    ) l
    CROSS JOIN LATERAL (
        SELECT version_id FROM run_io WHERE run_id = l.run_id AND direction = 'used'
    ) u
    UNION ALL
    SELECT id, NULL, target_id FROM versions
    WHERE id = ANY(CAST(:ids AS INTEGER[])) AND target_id IS NOT NULL
    """
)
_PG_CHUNK = 5000


def _steps(conn: Connection, stmt: Any, ids: Iterable[int]) -> list[tuple[int, str | None, int]]:
    out: list[tuple[int, str | None, int]] = []
    items = list(ids)
    if conn.dialect.name == "postgresql":
        pg = _PG_DOWN if stmt is _DOWN else _PG_UP
        chunks = [items[i : i + _PG_CHUNK] for i in range(0, len(items), _PG_CHUNK)]
        results = (conn.execute(pg, {"ids": chunk}) for chunk in chunks)
    else:
        results = (conn.execute(stmt, {"ids": chunk}) for chunk in _chunks(items))
    for res in results:
        for r in res:
            if r[2] is not None and r[2] != r[0]:  # a run re-logging what it consumed: no step
                out.append((int(r[0]), r[1], int(r[2])))
    return out


def downstream_steps(conn: Connection, ids: Iterable[int]) -> list[tuple[int, str | None, int]]:
    """``(source, run_id, built)`` steps one level down from ``ids``: ``built`` was logged by
    the run ``run_id`` that consumed ``source``, or (``run_id`` None) is a registry member
    linking ``source``."""
    return _steps(conn, _DOWN, ids)


_PG_WALK = text(
    "SELECT version_id, depth, parent_id, run_id FROM artiflow_downstream(:root, :depth)"
)


def downstream_walk(
    conn: Connection, root_id: int, depth: int
) -> list[tuple[int, int, int | None, str | None]]:
    """PostgreSQL: ``(version, depth, parent, run_id)`` of every version downstream of
    ``root_id`` within ``depth`` steps, each once at its shortest distance, in one statement
    (the ``artiflow_downstream`` function of migration 0007)."""
    rows = conn.execute(_PG_WALK, {"root": root_id, "depth": depth})
    return [(int(v), int(d), None if p is None else int(p), r) for v, d, p, r in rows]


def upstream_steps(conn: Connection, ids: Iterable[int]) -> list[tuple[int, str | None, int]]:
    """``(version, run_id, input)`` steps one level up from ``ids``: the run ``run_id`` that
    logged ``version`` consumed ``input``; for a registry member, ``input`` is its target."""
    return _steps(conn, _UP, ids)


def used_by_runs(conn: Connection, run_ids: Sequence[str]) -> list[tuple[str, int]]:
    """``(run_id, version_id)`` consumed edges of the given runs."""
    out: list[tuple[str, int]] = []
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        out.extend(
            (r.run_id, int(r.version_id))
            for r in conn.execute(
                select(run_io.c.run_id, run_io.c.version_id).where(
                    run_io.c.run_id.in_(chunk), run_io.c.direction == "used"
                )
            )
        )
    return out


def insert_via(conn: Connection, run_id: str, version_id: int, alias: str) -> None:
    """Record that ``run_id`` consumed ``version_id`` through ``alias`` (once per run and ref)."""
    exists = conn.execute(
        select(consumed_via.c.id).where(
            consumed_via.c.run_id == run_id,
            consumed_via.c.version_id == version_id,
            consumed_via.c.alias == alias,
        )
    ).first()
    if exists is None:
        cid = conn.execute(
            select(versions.c.collection_id).where(versions.c.id == version_id)
        ).scalar_one()
        conn.execute(
            insert(consumed_via).values(
                run_id=run_id,
                version_id=version_id,
                collection_id=cid,
                alias=alias,
                at=now(),
            )
        )


def consumed_through(conn: Connection, version_ids: Iterable[int]) -> list[dict[str, Any]]:
    """For each of ``version_ids``, the inputs its producing runs consumed through an alias:
    dicts with ``version_id`` (the product), ``input_id``, ``collection_id``, ``alias``,
    ``run_id``."""
    logged = run_io.alias("l")
    out: list[dict[str, Any]] = []
    for chunk in _chunks(version_ids):
        q = (
            select(
                logged.c.version_id,
                consumed_via.c.version_id.label("input_id"),
                consumed_via.c.collection_id,
                consumed_via.c.alias,
                consumed_via.c.run_id,
            )
            .join(consumed_via, consumed_via.c.run_id == logged.c.run_id)
            .where(logged.c.direction == "logged", logged.c.version_id.in_(chunk))
        )
        out.extend(
            {
                "version_id": int(r.version_id),
                "input_id": int(r.input_id),
                "collection_id": int(r.collection_id),
                "alias": r.alias,
                "run_id": r.run_id,
            }
            for r in conn.execute(q)
        )
    return out


def labelled_versions(conn: Connection) -> list[int]:
    """Ids of committed versions that hold a user alias or are the latest of their collection."""
    newest = versions.alias("newest")
    latest = (
        select(func.max(newest.c.idx))
        .where(newest.c.collection_id == versions.c.collection_id, newest.c.state == "COMMITTED")
        .scalar_subquery()
    )
    q = select(versions.c.id).where(
        versions.c.state == "COMMITTED",
        or_(
            versions.c.idx == latest,
            versions.c.id.in_(select(aliases.c.version_id)),
        ),
    )
    return [int(r.id) for r in conn.execute(q)]


def alias_targets(conn: Connection, pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Where each ``(collection_id, alias)`` points now (``latest``: the newest committed)."""
    out: dict[tuple[int, str], int] = {}
    for cid, alias in set(pairs):
        if alias == "latest":
            q = (
                select(versions.c.id)
                .where(versions.c.collection_id == cid, versions.c.state == "COMMITTED")
                .order_by(versions.c.idx.desc())
                .limit(1)
            )
        else:
            q = select(aliases.c.version_id).where(
                aliases.c.collection_id == cid, aliases.c.alias == alias
            )
        r = conn.execute(q).first()
        if r is not None:
            out[(cid, alias)] = int(r[0])
    return out


@dataclass(frozen=True)
class ImpactRow:
    """What an impact shows of one version (a lean :class:`VersionRecord`)."""

    id: int
    project: str
    name: str
    index: int | None
    state: str
    aliases: tuple[str, ...]
    is_latest: bool

    @property
    def version(self) -> str:
        return f"v{self.index}" if self.index is not None else "pending"

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"


# PostgreSQL: the versions of an impact in one statement per chunk (one round trip): the newest
# committed index of the collection is an index-only probe of ix_versions_collection_state_idx,
# the aliases an array of ix_aliases_version lookups
_PG_IMPACT_ROWS = text(
    """
    SELECT v.id, v.idx, v.state, c.project, c.name,
        (SELECT max(n.idx) FROM versions n
         WHERE n.collection_id = v.collection_id AND n.state = 'COMMITTED') AS newest,
        ARRAY(SELECT a.alias FROM aliases a WHERE a.version_id = v.id ORDER BY a.alias) AS names
    FROM unnest(CAST(:ids AS INTEGER[])) AS s(id)
    JOIN versions v ON v.id = s.id
    JOIN collections c ON c.id = v.collection_id
    """
)


# PostgreSQL: an impact in ONE statement, the walk (migration 0007) and the rows of what it found
_PG_IMPACT = text(
    """
    SELECT w.version_id AS id, w.depth, w.parent_id, w.run_id, v.idx, v.state, c.project,
        c.name,
        (SELECT max(n.idx) FROM versions n
         WHERE n.collection_id = v.collection_id AND n.state = 'COMMITTED') AS newest,
        ARRAY(SELECT a.alias FROM aliases a WHERE a.version_id = v.id ORDER BY a.alias) AS names
    FROM artiflow_downstream(:root, :depth) AS w
    JOIN versions v ON v.id = w.version_id
    JOIN collections c ON c.id = v.collection_id
    """
)


def impact_walk(
    conn: Connection, root_id: int, depth: int
) -> tuple[dict[int, tuple[int, int | None, str | None]], dict[int, ImpactRow]]:
    """PostgreSQL: :func:`downstream_walk` and :func:`impact_rows` of what it found, in one
    statement: ``({version: (depth, parent, run_id)}, {version: row})`` (the root in neither)."""
    found: dict[int, tuple[int, int | None, str | None]] = {}
    rows: dict[int, ImpactRow] = {}
    for r in conn.execute(_PG_IMPACT, {"root": root_id, "depth": depth}):
        vid = int(r.id)
        found[vid] = (int(r.depth), None if r.parent_id is None else int(r.parent_id), r.run_id)
        rows[vid] = _impact_row(r, r.names or (), r.newest)
    return found, rows


def _impact_row(r: Any, names: Iterable[str], newest: int | None) -> ImpactRow:
    latest = r.state == "COMMITTED" and r.idx is not None and newest == r.idx
    return ImpactRow(int(r.id), r.project, r.name, r.idx, r.state, tuple(names), latest)


def impact_rows(conn: Connection, ids: Iterable[int]) -> dict[int, ImpactRow]:
    """The versions ``ids`` as an impact lists them: on PostgreSQL one statement per chunk of
    5,000; on SQLite three light queries per chunk (the versions, the newest committed index of
    each of their collections, their aliases) instead of full version records."""
    out: dict[int, ImpactRow] = {}
    items = list(ids)
    pg = conn.dialect.name == "postgresql"
    if pg:
        for start in range(0, len(items), _PG_CHUNK):
            chunk = items[start : start + _PG_CHUNK]
            for r in conn.execute(_PG_IMPACT_ROWS, {"ids": chunk}):
                out[int(r.id)] = _impact_row(r, r.names or (), r.newest)
        return out
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        rows = conn.execute(
            select(
                versions.c.id,
                versions.c.collection_id,
                versions.c.idx,
                versions.c.state,
                collections.c.project,
                collections.c.name,
            )
            .join(collections, collections.c.id == versions.c.collection_id)
            .where(versions.c.id.in_(chunk))
        ).all()
        colls = sorted({int(r.collection_id) for r in rows})
        newest = dict(
            conn.execute(
                select(versions.c.collection_id, func.max(versions.c.idx))
                .where(versions.c.collection_id.in_(colls), versions.c.state == "COMMITTED")
                .group_by(versions.c.collection_id)
            ).all()
        )
        names: dict[int, list[str]] = {}
        for vid, alias in conn.execute(
            select(aliases.c.version_id, aliases.c.alias)
            .where(aliases.c.version_id.in_(chunk))
            .order_by(aliases.c.alias)
        ):
            names.setdefault(int(vid), []).append(alias)
        for r in rows:
            out[int(r.id)] = _impact_row(r, names.get(int(r.id), ()), newest.get(r.collection_id))
    return out


# ---- quarantines -----------------------------------------------------------------------------
def _quarantine_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "version_id": int(r.version_id),
        "reason": r.reason,
        "by": r.quarantined_by,
        "at": aware(r.quarantined_at),
        "released_at": aware(r.released_at),
        "released_by": r.released_by,
        "release_note": r.release_note,
    }


_ANY_ACTIVE = select(quarantines.c.id).where(quarantines.c.released_at.is_(None)).limit(1)
_ACTIVE = select(quarantines).where(
    quarantines.c.version_id.in_(_IDS), quarantines.c.released_at.is_(None)
)


def any_active_quarantine(conn: Connection) -> bool:
    """True when at least one version is quarantined now (the fast path of every resolve)."""
    return conn.execute(_ANY_ACTIVE).first() is not None


def active_quarantines(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The active quarantine of each of ``ids`` that has one (version id -> record dict)."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        for r in conn.execute(_ACTIVE, {"ids": chunk}):
            out[int(r.version_id)] = _quarantine_dict(r)
    return out


def quarantine_history(conn: Connection, version_id: int) -> list[dict[str, Any]]:
    """Every quarantine of a version (active and released), oldest first."""
    q = select(quarantines).where(quarantines.c.version_id == version_id).order_by(quarantines.c.id)
    return [_quarantine_dict(r) for r in conn.execute(q)]


def insert_quarantine(
    conn: Connection,
    version_id: int,
    reason: str,
    by: str,
    taints: Iterable[tuple[int, int]] = (),
    watermark: int = 0,
) -> dict[str, Any]:
    """Quarantine a version (the caller checked it is not quarantined already), with its
    ``taints`` ``(version id, depth)`` found downstream while versions up to ``watermark``
    existed (see :func:`taint_watermark`)."""
    at = now()
    key = conn.execute(
        insert(quarantines).values(
            version_id=version_id,
            reason=reason,
            quarantined_by=by,
            quarantined_at=at,
            watermark=watermark,
        )
    ).inserted_primary_key
    new_id = key[0] if key is not None else None
    pairs = list(taints)
    if conn.dialect.name == "postgresql" and pairs:  # one statement, two array parameters
        conn.execute(
            text(
                "INSERT INTO quarantine_taints (version_id, quarantine_id, depth) "
                "SELECT v, :q, d FROM unnest(CAST(:vs AS INTEGER[]), CAST(:ds AS INTEGER[])) "
                "AS t(v, d)"
            ),
            {"q": new_id, "vs": [v for v, _d in pairs], "ds": [d for _v, d in pairs]},
        )
    else:
        rows = [{"version_id": v, "quarantine_id": new_id, "depth": d} for v, d in pairs]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(quarantine_taints), rows[start : start + 5000])
    r = conn.execute(select(quarantines).where(quarantines.c.id == new_id)).one()
    return _quarantine_dict(r)


def taint_watermark(conn: Connection) -> int:
    """The newest version id a downstream walk starting now sees with all its edges: the
    newest version, or just below the oldest PENDING one (a collaborative version gets its
    produced edge when it commits, later)."""
    # a literal, not a parameter: a generic plan for ``state = $1`` walks the primary key in
    # order, filtering, and finds no PENDING row only after reading every version
    pending = conn.execute(text("SELECT MIN(id) FROM versions WHERE state = 'PENDING'")).scalar()
    if pending is not None:
        return int(pending) - 1
    return int(conn.execute(select(func.max(versions.c.id))).scalar() or 0)


# One round trip per resolve, whatever is quarantined: the version's own active quarantine
# (kind 0), the active quarantines whose taint lists it (kind 1, with the distance), and how
# active quarantine with the smallest watermark (kind 2, absent when none is active: one
# index probe of ix_quarantines_active_mark, however many are active).
_STATE = text(
    """
    SELECT 0 AS kind, q.id AS qid, 0 AS depth FROM quarantines q
    WHERE q.version_id = :v AND q.released_at IS NULL
    UNION ALL
    SELECT 1, t.quarantine_id, t.depth FROM quarantine_taints t
    WHERE t.version_id = :v AND EXISTS (
        SELECT 1 FROM quarantines q WHERE q.id = t.quarantine_id AND q.released_at IS NULL
    )
    UNION ALL
    SELECT * FROM (
        SELECT 2, q.id, q.watermark FROM quarantines q
        WHERE q.released_at IS NULL ORDER BY q.watermark LIMIT 1
    ) lowest
    """
)


def quarantine_state(conn: Connection, version_id: int) -> tuple[list[tuple[int, int]], int, int]:
    """``(hits, active, watermark)`` for one version in one query: ``hits`` the ``(depth,
    quarantine id)`` of every active quarantine of it or tainting it (its own at depth 0),
    ``active`` 1 when some quarantine is active (else 0), ``watermark`` the smallest of theirs."""
    hits: list[tuple[int, int]] = []
    active, mark = 0, 0
    for kind, qid, depth in conn.execute(_STATE, {"v": version_id}):
        if kind == 2:
            active, mark = 1, int(depth or 0)
        else:
            hits.append((int(depth), int(qid)))
    return hits, active, mark


_TAINTS = (
    select(
        quarantine_taints.c.version_id.label("tainted_id"),
        quarantine_taints.c.depth,
        quarantines,
    )
    .join(quarantines, quarantines.c.id == quarantine_taints.c.quarantine_id)
    .where(quarantine_taints.c.version_id.in_(_IDS), quarantines.c.released_at.is_(None))
)


def taint_hits(conn: Connection, ids: Iterable[int]) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """For each of ``ids`` that is quarantined or tainted by an active quarantine, the
    ``(depth, record)`` of each (its own quarantine at depth 0)."""
    out: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for chunk in _chunks(ids):
        for r in conn.execute(_ACTIVE, {"ids": chunk}):
            out.setdefault(int(r.version_id), []).append((0, _quarantine_dict(r)))
        for r in conn.execute(_TAINTS, {"ids": chunk}):
            row = _quarantine_dict(r)
            out.setdefault(int(r.tainted_id), []).append((int(r.depth), row))
    return out


def quarantine_by_id(conn: Connection, quarantine_id: int) -> dict[str, Any]:
    """One quarantine record."""
    return _quarantine_dict(
        conn.execute(select(quarantines).where(quarantines.c.id == quarantine_id)).one()
    )


def release_quarantine(
    conn: Connection, version_id: int, by: str, note: str | None
) -> dict[str, Any] | None:
    """End the active quarantine of a version; returns it (released), or None if there was none."""
    active = active_quarantines(conn, [version_id]).get(version_id)
    if active is None:
        return None
    at = now()
    conn.execute(
        update(quarantines)
        .where(quarantines.c.id == active["id"])
        .values(released_at=at, released_by=by, release_note=note)
    )
    conn.execute(
        quarantine_taints.delete().where(quarantine_taints.c.quarantine_id == active["id"])
    )
    return {**active, "released_at": at, "released_by": by, "release_note": note}


# ---- checks, protections, audit --------------------------------------------------------------
def insert_check(
    conn: Connection, version_id: int, name: str, passed: bool, details: Any, by: str
) -> dict[str, Any]:
    """Record one check result on a version."""
    at = now()
    conn.execute(
        insert(version_checks).values(
            version_id=version_id,
            name=name,
            passed=bool(passed),
            details=details,
            recorded_by=by,
            at=at,
        )
    )
    return {"name": name, "passed": bool(passed), "details": details, "by": by, "at": at}


def checks_of(conn: Connection, ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Check results per version id, oldest first (a later result of a name supersedes)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(ids):
        q = (
            select(version_checks)
            .where(version_checks.c.version_id.in_(chunk))
            .order_by(version_checks.c.id)
        )
        for r in conn.execute(q):
            out.setdefault(int(r.version_id), []).append(
                {
                    "name": r.name,
                    "passed": bool(r.passed),
                    "details": r.details,
                    "by": r.recorded_by,
                    "at": aware(r.at),
                }
            )
    return out


def set_protection(
    conn: Connection,
    collection_id: int,
    alias: str,
    require_checks: Sequence[str],
    require_clean_upstream: bool,
    by: str,
) -> None:
    """Protect (or re-protect with new rules) an alias of a collection."""
    key = (alias_protections.c.collection_id == collection_id, alias_protections.c.alias == alias)
    conn.execute(alias_protections.delete().where(*key))
    conn.execute(
        insert(alias_protections).values(
            collection_id=collection_id,
            alias=alias,
            require_checks=list(require_checks),
            require_clean_upstream=bool(require_clean_upstream),
            protected_by=by,
            at=now(),
        )
    )


def remove_protection(conn: Connection, collection_id: int, alias: str) -> bool:
    """Unprotect an alias; True when it was protected."""
    res = conn.execute(
        alias_protections.delete().where(
            alias_protections.c.collection_id == collection_id, alias_protections.c.alias == alias
        )
    )
    return bool(res.rowcount)


def protection_of(conn: Connection, collection_id: int, alias: str) -> dict[str, Any] | None:
    """The protection rules of an alias, or None when it is not protected."""
    r = conn.execute(
        select(alias_protections).where(
            alias_protections.c.collection_id == collection_id, alias_protections.c.alias == alias
        )
    ).first()
    if r is None:
        return None
    return {
        "alias": r.alias,
        "require_checks": list(r.require_checks or []),
        "require_clean_upstream": bool(r.require_clean_upstream),
        "by": r.protected_by,
        "at": aware(r.at),
    }


def insert_audit(
    conn: Connection,
    collection_id: int,
    alias: str,
    version_id: int | None,
    moved_by: str,
    via: str,
    evidence: Any,
) -> None:
    """Record who or what moved an alias, how, and the evidence it relied on."""
    conn.execute(
        insert(alias_audit).values(
            collection_id=collection_id,
            alias=alias,
            version_id=version_id,
            moved_by=moved_by,
            via=via,
            evidence=evidence,
            at=now(),
        )
    )


def audit_of(
    conn: Connection, collection_id: int, alias: str | None = None, limit: int | None = 100
) -> list[dict[str, Any]]:
    """Audit records of a collection's alias moves, newest first (``limit`` None: all)."""
    q = (
        select(alias_audit, versions.c.idx)
        .outerjoin(versions, versions.c.id == alias_audit.c.version_id)
        .where(alias_audit.c.collection_id == collection_id)
        .order_by(alias_audit.c.id.desc())
    )
    if limit is not None:
        q = q.limit(limit)
    if alias is not None:
        q = q.where(alias_audit.c.alias == alias)
    return [
        {
            "alias": r.alias,
            "version": f"v{r.idx}" if r.idx is not None else None,
            "moved_by": r.moved_by,
            "via": r.via,
            "evidence": r.evidence,
            "at": aware(r.at),
        }
        for r in conn.execute(q)
    ]


# ---- per-alias freshness (max_age) -------------------------------------------------------------
def set_freshness(
    conn: Connection, collection_id: int, alias: str, max_age: int | None, by: str
) -> None:
    """Set (``max_age`` seconds) or clear (None) the maximum age of an alias."""
    key = (alias_freshness.c.collection_id == collection_id, alias_freshness.c.alias == alias)
    conn.execute(alias_freshness.delete().where(*key))
    if max_age is not None:
        conn.execute(
            insert(alias_freshness).values(
                collection_id=collection_id, alias=alias, max_age=max_age, set_by=by, at=now()
            )
        )


def freshness_rules(conn: Connection) -> list[dict[str, Any]]:
    """Every alias with a maximum age: ``collection_id``, ``project``, ``name``, ``alias``,
    ``max_age`` (seconds), ``overdue_version_id`` (the version last announced overdue)."""
    q = (
        select(alias_freshness, collections.c.project, collections.c.name)
        .join(collections, collections.c.id == alias_freshness.c.collection_id)
        .order_by(collections.c.project, collections.c.name, alias_freshness.c.alias)
    )
    return [
        {
            "collection_id": int(r.collection_id),
            "project": r.project,
            "name": r.name,
            "alias": r.alias,
            "max_age": int(r.max_age),
            "set_by": r.set_by,
            "overdue_version_id": r.overdue_version_id,
        }
        for r in conn.execute(q)
    ]


def committed_times(conn: Connection, ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each version was committed (created, for one that has no commit time)."""
    out: dict[int, dt.datetime] = {}
    for chunk in _chunks(ids):
        q = select(versions.c.id, versions.c.committed_at, versions.c.created_at).where(
            versions.c.id.in_(chunk)
        )
        for r in conn.execute(q):
            when = aware(r.committed_at or r.created_at)
            if when is not None:
                out[int(r.id)] = when
    return out


def mark_overdue(conn: Connection, collection_id: int, alias: str, version_id: int) -> bool:
    """Record that ``alias`` on ``version_id`` was announced overdue; False when it was
    already (by this or a concurrent check): announce once per alias and version."""
    res = conn.execute(
        update(alias_freshness)
        .where(
            alias_freshness.c.collection_id == collection_id,
            alias_freshness.c.alias == alias,
            or_(
                alias_freshness.c.overdue_version_id.is_(None),
                alias_freshness.c.overdue_version_id != version_id,
            ),
        )
        .values(overdue_version_id=version_id, overdue_at=now())
    )
    return bool(res.rowcount)
