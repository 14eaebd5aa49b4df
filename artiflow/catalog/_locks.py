"""Run locks in the catalog: the version each ref resolved to first in one pipeline run.

A pipeline run (a DAG run, a flow run with its subflows) owns one ``run_locks`` row, keyed by
``(orchestrator, pipeline, pipeline_run)``; ``run_lock_entries`` holds, per ref text as asked
(``default/bike-dataset:production``), the version it resolved to the first time and the task
that resolved it. The first writer wins on SQLite and PostgreSQL alike: ``INSERT … ON CONFLICT
DO NOTHING`` and then a re-read in the same transaction, so two tasks of one run that resolve
the same ref at the same moment both get the version that landed first (PostgreSQL's second
insert waits for the first to commit; SQLite write transactions are serialised).

``replay_outputs`` records, for a replay run, each output's digest next to the original run's
output of the same collection by the same task (``reproduced``): one row per ``(lock,
collection, task)``, so two tasks of one run that write one collection are compared each.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> row, _, _ = cat.commit_version("default", "ds", "dataset", entries=[], digest="d" * 64,
    ...                                size=0)
    >>> locks = LockCatalog(cat)
    >>> locks.record("manual", "etl", "r1", "default/ds:latest", row.id, "clean").version_id
    1
    >>> locks.record("manual", "etl", "r1", "default/ds:latest", 999, "train").task
    'clean'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    or_,
    select,
    update,
)

from .models import metadata, versions

__all__ = [
    "LockCatalog",
    "LockEntryRow",
    "LockRow",
    "ReplayRow",
    "replay_outputs",
    "run_lock_entries",
    "run_locks",
]

run_locks = Table(
    "run_locks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("orchestrator", String(32), nullable=False),
    # "" when the pipeline run has no pipeline name (NULL would defeat the unique key)
    Column("pipeline", String(255), nullable=False, server_default=""),
    Column("pipeline_run", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kept", Boolean, nullable=False, server_default="0"),
    Column("kept_by", String(255)),
    Column("kept_at", DateTime(timezone=True)),
    Column("kept_reason", Text),
    # a replay: the lock of the pipeline run it resolves from
    Column("replay_of", Integer, ForeignKey("run_locks.id")),
    UniqueConstraint("orchestrator", "pipeline", "pipeline_run", name="uq_run_locks_key"),
)

run_lock_entries = Table(
    "run_lock_entries",
    metadata,
    Column("lock_id", Integer, ForeignKey("run_locks.id"), primary_key=True),
    Column("ref", String(400), primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("task", String(255)),
    Column("at", DateTime(timezone=True), nullable=False),
)

replay_outputs = Table(
    "replay_outputs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lock_id", Integer, ForeignKey("run_locks.id"), nullable=False),
    Column("original_lock_id", Integer, ForeignKey("run_locks.id"), nullable=False),
    Column("collection", String(300), nullable=False),
    Column("task", String(255)),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("original_version_id", Integer, ForeignKey("versions.id")),
    Column("original_digest", String(64)),
    Column("reproduced", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # per producing task: two tasks of one run may write one collection (migration 0007)
    UniqueConstraint("lock_id", "collection", "task", name="uq_replay_outputs_lock_task"),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


@dataclass(frozen=True)
class LockRow:
    """A pipeline run's lock as stored."""

    id: int
    orchestrator: str
    pipeline: str | None
    pipeline_run: str
    created_at: dt.datetime
    kept: bool
    kept_by: str | None
    kept_at: dt.datetime | None
    kept_reason: str | None
    replay_of: int | None


@dataclass(frozen=True)
class LockEntryRow:
    """One locked ref: the version it resolved to first, and the task that resolved it."""

    lock_id: int
    ref: str
    version_id: int
    task: str | None
    at: dt.datetime


@dataclass(frozen=True)
class ReplayRow:
    """One output of a replay run compared with the original run's output."""

    lock_id: int
    original_lock_id: int
    collection: str
    task: str | None
    version_id: int
    digest: str
    original_version_id: int | None
    original_digest: str | None
    reproduced: bool
    at: dt.datetime


def _insert(conn: Connection, table: Table) -> Any:
    """A dialect ``INSERT`` that supports ``ON CONFLICT`` (SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


_ADD_LOCK: dict[str, Any] = {}  # dialect name -> INSERT ... ON CONFLICT DO NOTHING RETURNING
_ADD_ENTRY: dict[str, Any] = {}


def _add_once(conn: Connection, cache: dict[str, Any], table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING *`` of ``table`` for the connection's
    dialect, built once (every task that resolves an input runs it with its parameters)."""
    stmt = cache.get(conn.dialect.name)
    if stmt is None:
        stmt = cache[conn.dialect.name] = (
            _insert(conn, table).on_conflict_do_nothing().returning(*table.c)
        )
    return stmt


_BY_KEY = select(run_locks).where(
    run_locks.c.orchestrator == bindparam("k_orchestrator"),
    run_locks.c.pipeline == bindparam("k_pipeline"),
    run_locks.c.pipeline_run == bindparam("k_pipeline_run"),
)
_ENTRY_IN = select(run_lock_entries).where(
    run_lock_entries.c.lock_id == bindparam("e_lock"), run_lock_entries.c.ref == bindparam("e_ref")
)
_ENTRY_BY_KEY = (
    select(run_lock_entries)
    .join(run_locks, run_locks.c.id == run_lock_entries.c.lock_id)
    .where(
        run_locks.c.orchestrator == bindparam("k_orchestrator"),
        run_locks.c.pipeline == bindparam("k_pipeline"),
        run_locks.c.pipeline_run == bindparam("k_pipeline_run"),
        run_lock_entries.c.ref == bindparam("e_ref"),
    )
)


def _key_params(orchestrator: str, pipeline: str | None, pipeline_run: str) -> dict[str, Any]:
    return {
        "k_orchestrator": orchestrator,
        "k_pipeline": pipeline or "",
        "k_pipeline_run": pipeline_run,
    }


def _lock_row(r: Any) -> LockRow:
    return LockRow(
        id=r.id,
        orchestrator=r.orchestrator,
        pipeline=r.pipeline or None,
        pipeline_run=r.pipeline_run,
        created_at=_aware(r.created_at),  # type: ignore[arg-type]
        kept=bool(r.kept),
        kept_by=r.kept_by,
        kept_at=_aware(r.kept_at),
        kept_reason=r.kept_reason,
        replay_of=r.replay_of,
    )


def _entry_row(r: Any) -> LockEntryRow:
    return LockEntryRow(r.lock_id, r.ref, r.version_id, r.task, _aware(r.at))  # type: ignore[arg-type]


def _replay_row(r: Any) -> ReplayRow:
    return ReplayRow(
        lock_id=r.lock_id,
        original_lock_id=r.original_lock_id,
        collection=r.collection,
        task=r.task,
        version_id=r.version_id,
        digest=r.digest,
        original_version_id=r.original_version_id,
        original_digest=r.original_digest,
        reproduced=bool(r.reproduced),
        at=_aware(r.at),  # type: ignore[arg-type]
    )


class LockCatalog:
    """Run-lock queries and first-writer-wins writes over a :class:`~artiflow.catalog.Catalog`
    (its ``read()`` / ``write()`` transactions)."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog

    # ---- locks --------------------------------------------------------------------------
    @staticmethod
    def _key(orchestrator: str, pipeline: str | None, pipeline_run: str) -> Any:
        return and_(
            run_locks.c.orchestrator == orchestrator,
            run_locks.c.pipeline == (pipeline or ""),
            run_locks.c.pipeline_run == pipeline_run,
        )

    def _ensure(
        self,
        conn: Connection,
        orchestrator: str,
        pipeline: str | None,
        pipeline_run: str,
        replay_of: int | None = None,
    ) -> Any:
        """The lock row of a pipeline run, created when missing (race-safe: the row that is
        there afterwards; the one just inserted comes back from ``RETURNING``, no read)."""
        row = conn.execute(
            _add_once(conn, _ADD_LOCK, run_locks),
            {
                "orchestrator": orchestrator,
                "pipeline": pipeline or "",
                "pipeline_run": pipeline_run,
                "created_at": _now(),
                "kept": False,
                "replay_of": replay_of,
            },
        ).first()
        if row is None:  # it existed already
            row = conn.execute(_BY_KEY, _key_params(orchestrator, pipeline, pipeline_run)).one()
        if replay_of is not None and row.replay_of is None:
            conn.execute(
                update(run_locks).where(run_locks.c.id == row.id).values(replay_of=replay_of)
            )
            row = conn.execute(select(run_locks).where(run_locks.c.id == row.id)).one()
        return row

    def ensure(
        self,
        orchestrator: str,
        pipeline: str | None,
        pipeline_run: str,
        *,
        replay_of: int | None = None,
    ) -> LockRow:
        """The lock of a pipeline run, created (empty) when it has none yet."""
        with self.catalog.write() as conn:
            return _lock_row(self._ensure(conn, orchestrator, pipeline, pipeline_run, replay_of))

    def find(
        self,
        orchestrator: str,
        pipeline_run: str,
        pipeline: str | None = ...,  # type: ignore[assignment]
    ) -> list[LockRow]:
        """The locks of ``pipeline_run`` (one per pipeline that has a run of that id; give
        ``pipeline`` to pick one, None meaning "no pipeline name")."""
        q = select(run_locks).where(
            run_locks.c.orchestrator == orchestrator, run_locks.c.pipeline_run == pipeline_run
        )
        if pipeline is not None:
            q = q.where(run_locks.c.pipeline == pipeline)
        with self.catalog.read() as conn:
            return [_lock_row(r) for r in conn.execute(q.order_by(run_locks.c.id))]

    def by_id(self, lock_id: int) -> LockRow:
        """A lock by id (raises ``LookupError`` when there is none)."""
        with self.catalog.read() as conn:
            r = conn.execute(select(run_locks).where(run_locks.c.id == lock_id)).first()
        if r is None:
            raise LookupError(f"run lock {lock_id} does not exist")
        return _lock_row(r)

    def set_kept(
        self,
        orchestrator: str,
        pipeline: str | None,
        pipeline_run: str,
        kept: bool,
        *,
        by: str | None = None,
        reason: str | None = None,
    ) -> LockRow:
        """Mark a lock kept (its versions cannot be deleted) or release it."""
        with self.catalog.write() as conn:
            row = self._ensure(conn, orchestrator, pipeline, pipeline_run)
            values: dict[str, Any] = (
                {"kept": True, "kept_by": by, "kept_at": _now(), "kept_reason": reason}
                if kept
                else {"kept": False, "kept_by": None, "kept_at": None, "kept_reason": None}
            )
            conn.execute(update(run_locks).where(run_locks.c.id == row.id).values(**values))
            return _lock_row(conn.execute(select(run_locks).where(run_locks.c.id == row.id)).one())

    # ---- entries ------------------------------------------------------------------------
    def record(
        self,
        orchestrator: str,
        pipeline: str | None,
        pipeline_run: str,
        ref: str,
        version_id: int,
        task: str | None,
    ) -> LockEntryRow:
        """Record that ``ref`` resolved to ``version_id`` in this pipeline run, unless an
        earlier resolution did: the entry that is in the lock afterwards is returned (the first
        writer's, maybe not ``version_id``)."""
        with self.catalog.write() as conn:
            lock = self._ensure(conn, orchestrator, pipeline, pipeline_run)
            r = conn.execute(
                _add_once(conn, _ADD_ENTRY, run_lock_entries),
                {
                    "lock_id": lock.id,
                    "ref": ref,
                    "version_id": version_id,
                    "task": task,
                    "at": _now(),
                },
            ).first()
            if r is None:  # an earlier resolution's entry: that one holds
                r = conn.execute(_ENTRY_IN, {"e_lock": lock.id, "e_ref": ref}).one()
            return _entry_row(r)

    def entry(
        self, orchestrator: str, pipeline: str | None, pipeline_run: str, ref: str
    ) -> LockEntryRow | None:
        """The locked entry of ``ref`` in a pipeline run, or None."""
        params = {**_key_params(orchestrator, pipeline, pipeline_run), "e_ref": ref}
        with self.catalog.read() as conn:
            r = conn.execute(_ENTRY_BY_KEY, params).first()
        return _entry_row(r) if r is not None else None

    def entries(self, lock_id: int) -> list[LockEntryRow]:
        """The entries of a lock, in the order they were first resolved."""
        q = (
            select(run_lock_entries)
            .where(run_lock_entries.c.lock_id == lock_id)
            .order_by(run_lock_entries.c.at, run_lock_entries.c.ref)
        )
        with self.catalog.read() as conn:
            return [_entry_row(r) for r in conn.execute(q)]

    def kept_holding(self, version_id: int) -> list[LockRow]:
        """The kept locks that hold ``version_id`` (deleting it must wait until released)."""
        q = (
            select(run_locks)
            .join(run_lock_entries, run_lock_entries.c.lock_id == run_locks.c.id)
            .where(run_locks.c.kept.is_(True), run_lock_entries.c.version_id == version_id)
            .order_by(run_locks.c.id)
        )
        with self.catalog.read() as conn:
            return [_lock_row(r) for r in conn.execute(q)]

    def kept_version_ids(self) -> set[int]:
        """Every version a kept lock holds."""
        q = (
            select(run_lock_entries.c.version_id)
            .join(run_locks, run_locks.c.id == run_lock_entries.c.lock_id)
            .where(run_locks.c.kept.is_(True))
        )
        with self.catalog.read() as conn:
            return {int(v) for v in conn.execute(q).scalars()}

    # ---- replays ------------------------------------------------------------------------
    def record_replay(
        self,
        lock_id: int,
        original_lock_id: int,
        collection: str,
        task: str | None,
        version_id: int,
        original_version_id: int | None,
    ) -> ReplayRow:
        """Record one output of a replay run (per collection and producing task: the task's
        latest commit of the collection wins)."""
        with self.catalog.write() as conn:
            digests = dict(
                conn.execute(
                    select(versions.c.id, versions.c.digest).where(
                        versions.c.id.in_([version_id, original_version_id or version_id])
                    )
                ).all()
            )
            digest = digests[version_id]
            original = digests.get(original_version_id) if original_version_id else None
            values = {
                "lock_id": lock_id,
                "original_lock_id": original_lock_id,
                "collection": collection,
                "task": task,
                "version_id": version_id,
                "digest": digest,
                "original_version_id": original_version_id,
                "original_digest": original,
                "reproduced": original is not None and original == digest,
                "at": _now(),
            }
            key = and_(
                replay_outputs.c.lock_id == lock_id,
                replay_outputs.c.collection == collection,
                replay_outputs.c.task.is_(None) if task is None else replay_outputs.c.task == task,
            )
            conn.execute(delete(replay_outputs).where(key))
            conn.execute(replay_outputs.insert().values(**values))
            return _replay_row(conn.execute(select(replay_outputs).where(key)).one())

    def replays(self, lock_id: int) -> list[ReplayRow]:
        """The replay comparisons a lock takes part in (as the replay or as the original)."""
        q = (
            select(replay_outputs)
            .where(
                or_(
                    replay_outputs.c.lock_id == lock_id,
                    replay_outputs.c.original_lock_id == lock_id,
                )
            )
            .order_by(replay_outputs.c.at, replay_outputs.c.collection, replay_outputs.c.task)
        )
        with self.catalog.read() as conn:
            return [_replay_row(r) for r in conn.execute(q)]
