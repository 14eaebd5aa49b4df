"""Runs and their edges (``run_io``: which versions a run used and logged).

Example:
    >>> from artiflow.catalog import Catalog
    >>> Catalog.open("sqlite://").count_runs()
    0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from ._records import RunRecord
from ._rows import chunks, now, run_record
from ._tx import Transactions
from .models import run_io, runs

__all__ = ["RunsMixin", "insert_run", "record_edge", "run_filters"]

# Every task writes these; built once and executed with parameters (``.values(...)`` per call
# coerced each value into a new statement: ~0.15 ms of CPU per row on SQLite).
_INSERT_RUN = insert(runs)
_INSERT_EDGE = insert(run_io)
_EDGE_ID = select(run_io.c.id).where(
    run_io.c.run_id == bindparam("e_run"),
    run_io.c.version_id == bindparam("e_version"),
    run_io.c.direction == bindparam("e_direction"),
)
_FINISH_RUN = (
    update(runs)
    .where(runs.c.id == bindparam("f_run"))
    .values(state=bindparam("f_state"), ended_at=bindparam("f_ended"), error=bindparam("f_error"))
)


def record_edge(
    conn: Connection, run_id: str, version_id: int, direction: str, new: bool = False
) -> None:
    """Record an edge once; ``new`` (a version created in this transaction) cannot have one."""
    exists = (
        None
        if new
        else conn.execute(
            _EDGE_ID, {"e_run": run_id, "e_version": version_id, "e_direction": direction}
        ).first()
    )
    if exists is None:
        conn.execute(
            _INSERT_EDGE,
            {"run_id": run_id, "version_id": version_id, "direction": direction, "at": now()},
        )


def insert_run(conn: Connection, row: RunRecord) -> None:
    """Insert a run in the caller's transaction (:meth:`RunsMixin.create_run` opens its own)."""
    conn.execute(
        _INSERT_RUN,
        {
            "id": row.id,
            "name": row.name,
            "orchestrator": row.orchestrator,
            "pipeline": row.pipeline,
            "pipeline_run": row.pipeline_run,
            "task": row.task,
            "try_number": row.try_number,
            "map_index": row.map_index,
            "host": row.host,
            "state": row.state,
            "started_at": row.started_at,
            "info": row.info or {},
        },
    )


def run_filters(
    q: Any,
    orchestrator: str | None = None,
    pipeline: str | None = None,
    pipeline_run: str | None = None,
    state: str | None = None,
) -> Any:
    """``q`` restricted to the runs matching every given filter."""
    for column, value in (
        (runs.c.orchestrator, orchestrator),
        (runs.c.pipeline, pipeline),
        (runs.c.pipeline_run, pipeline_run),
        (runs.c.state, state),
    ):
        if value is not None:
            q = q.where(column == value)
    return q


class RunsMixin(Transactions):
    """Runs and edges (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def create_run(self, row: RunRecord) -> None:
        """Insert a run."""
        with self.write() as conn:
            insert_run(conn, row)

    def finish_run(self, run_id: str, state: str, error: str | None = None) -> dt.datetime | None:
        """Set a run's final state and end time; returns the end time (None: no such run)."""
        ended = now()
        with self.write() as conn:
            done = conn.execute(
                _FINISH_RUN,
                {"f_run": run_id, "f_state": state, "f_ended": ended, "f_error": error},
            ).rowcount
        return ended if done else None

    def record_use(
        self,
        run_id: str,
        version_id: int,
        *,
        alias: str | None = None,
        collection_id: int | None = None,
        new_run: RunRecord | None = None,
    ) -> None:
        """Record that a run used a version and, with ``alias``, the alias it was read through
        (staleness), in ONE write transaction; with ``new_run`` (the run ``run_id``), insert
        that run first: it has no edge and read nothing through an alias yet, so nothing is
        checked (``collection_id``: the version's collection)."""
        from ._control import consumed_via, insert_via

        with self.write() as conn:
            if new_run is not None:
                insert_run(conn, new_run)
            record_edge(conn, run_id, version_id, "used", new=new_run is not None)
            if alias is None:
                return
            if new_run is not None and collection_id is not None:
                conn.execute(
                    insert(consumed_via),
                    {
                        "run_id": run_id,
                        "version_id": version_id,
                        "collection_id": collection_id,
                        "alias": alias,
                        "at": now(),
                    },
                )
            else:
                insert_via(conn, run_id, version_id, alias)

    def record_io(self, run_id: str, version_id: int, direction: str) -> None:
        """Record that a run used or logged a version (idempotent)."""
        with self.write() as conn:
            record_edge(conn, run_id, version_id, direction)

    def runs_by_ids(
        self, ids: Sequence[str], conn: Connection | None = None
    ) -> dict[str, RunRecord]:
        """Runs by id."""
        out: dict[str, RunRecord] = {}
        with self.read(conn) as c:
            for chunk in chunks(ids):
                out.update(
                    (r.id, run_record(r))
                    for r in c.execute(select(runs).where(runs.c.id.in_(chunk)))
                )
        return out

    def list_runs(
        self,
        *,
        orchestrator: str | None = None,
        pipeline: str | None = None,
        pipeline_run: str | None = None,
        state: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first."""
        q = run_filters(select(runs), orchestrator, pipeline, pipeline_run, state)
        q = q.order_by(runs.c.started_at.desc(), runs.c.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return [run_record(r) for r in conn.execute(q)]

    def count_runs(
        self,
        *,
        orchestrator: str | None = None,
        pipeline: str | None = None,
        pipeline_run: str | None = None,
        state: str | None = None,
    ) -> int:
        """How many runs match (for pagination)."""
        q = run_filters(
            select(func.count()).select_from(runs), orchestrator, pipeline, pipeline_run, state
        )
        with self.read() as conn:
            return int(conn.execute(q).scalar_one())

    def _io_of(
        self, column: Any, keys: Sequence[Any], direction: str, conn: Connection | None
    ) -> list[tuple[str, int]]:
        """``(run_id, version_id)`` edges in ``direction`` whose ``column`` is one of ``keys``."""
        out: list[tuple[str, int]] = []
        with self.read(conn) as c:
            for chunk in chunks(keys):
                q = select(run_io.c.run_id, run_io.c.version_id).where(
                    column.in_(chunk), run_io.c.direction == direction
                )
                out.extend((r.run_id, r.version_id) for r in c.execute(q))
        return out

    def io_of_versions(
        self, version_ids: Sequence[int], direction: str, conn: Connection | None = None
    ) -> list[tuple[str, int]]:
        """``(run_id, version_id)`` edges of the given versions in ``direction``."""
        return self._io_of(run_io.c.version_id, version_ids, direction, conn)

    def io_of_runs(
        self, run_ids: Sequence[str], direction: str, conn: Connection | None = None
    ) -> list[tuple[str, int]]:
        """``(run_id, version_id)`` edges of the given runs in ``direction``."""
        return self._io_of(run_io.c.run_id, run_ids, direction, conn)
