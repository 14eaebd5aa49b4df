"""Helpers for the Airflow tests: read task states and XComs of a finished DagRun."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import select

REPO = Path(__file__).resolve().parents[2]
#: the example DAG files of the repository (copied into the test DAGS_FOLDER by conftest.py)
EXAMPLE_DAG_FILES = sorted((REPO / "dags").glob("*.py"))


def dags_folder() -> Path:
    """The temporary DAGS_FOLDER set up by conftest.py."""
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def task_states(dag_run) -> dict[tuple[str, int], str]:
    """``{(task_id, map_index): state}`` of a finished DagRun."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
            )
        )
        return {(ti.task_id, ti.map_index): str(getattr(ti.state, "value", ti.state)) for ti in tis}


def xcom(dag_run, task_id: str, key: str = "return_value", map_index: int = -1):
    """The (deserialized) XCom value a task pushed in ``dag_run``, or None."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id,
                key=key,
                task_ids=task_id,
                dag_ids=dag_run.dag_id,
                map_indexes=map_index,
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def asset_events(uri: str) -> list[dict]:
    """Extras (plus ``_run_id``, the source DAG run) of every asset event on ``uri``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
            .order_by(AssetEvent.id)
        )
        return [dict(e.extra or {}, _run_id=e.source_run_id) for e in rows]


def _scheduler_dag(dag):
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))


def create_run(dag, run_id: str, *, events=(), conf=None):
    """Create a DAG run the way the scheduler creates an asset-triggered one: run type
    ``asset_triggered`` with ``events`` (AssetEvent ids) as its consumed asset events.
    Run it with :func:`run_existing`. The DAG must have been synced (one ``dag.test()``)."""
    from airflow.models.asset import AssetEvent
    from airflow.sdk import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    now = timezone.utcnow()
    with create_session() as session:
        dr = _scheduler_dag(dag).create_dagrun(
            run_id=run_id,
            run_after=now,
            conf=conf,
            run_type=DagRunType.ASSET_TRIGGERED if events else DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.ASSET if events else DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            start_date=now,
            session=session,
        )
        if events:
            rows = session.scalars(select(AssetEvent).where(AssetEvent.id.in_(list(events))))
            dr.consumed_asset_events.extend(rows)
        session.commit()
        return dr.run_id


def run_existing(dag, run_id: str):
    """Run the schedulable tasks of an existing DAG run until it finishes, like ``dag.test()``
    does for the run it creates (the same in-process task runner)."""
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.state import DagRunState, TaskInstanceState

    scheduler_dag = _scheduler_dag(dag)
    session = settings.Session()
    try:
        dr = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
        )
        dr.dag = scheduler_dag
        for _ in range(200):
            if dr.state != DagRunState.RUNNING:
                break
            session.expire_all()
            schedulable, _ = dr.update_state(session=session)
            for s in schedulable:
                if s.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    s.try_number += 1
                s.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [
                t
                for t in dr.get_task_instances(session=session)
                if t.state == TaskInstanceState.SCHEDULED
            ]
            for ti in scheduled:
                with contextlib.suppress(Exception):  # recorded as the task instance's state
                    _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
        session.expire_all()
        return session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
        )
    finally:
        session.close()


def clear(dag_run, task_ids, map_indexes=None) -> int:
    """Clear task instances of a finished DAG run (as the UI / REST API does); returns the
    run's new ``clear_number``. ``map_indexes`` limits the mapped instances cleared."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        tis = list(
            session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_run.dag_id,
                    TaskInstance.run_id == dag_run.run_id,
                    TaskInstance.task_id.in_(list(task_ids)),
                )
            )
        )
        if map_indexes is not None:
            tis = [t for t in tis if t.map_index in map_indexes or t.map_index < 0]
        clear_task_instances(tis, session, dag_run_state=DagRunState.RUNNING)
        session.commit()
        dr = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag_run.dag_id, DagRun.run_id == dag_run.run_id)
        )
        return dr.clear_number


def asset_event_ids(uri: str) -> list[int]:
    """Ids of every asset event on ``uri``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return list(
            session.scalars(
                select(AssetEvent.id)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetModel.uri == uri)
                .order_by(AssetEvent.id)
            )
        )


def add_asset_event(uri: str, extra: dict) -> int:
    """Record an asset event on ``uri`` (as ``POST /api/v2/assets/events`` does); its id."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.sdk import timezone
    from airflow.utils.session import create_session

    with create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.uri == uri))
        ev = AssetEvent(asset_id=asset.id, extra=extra, timestamp=timezone.utcnow())
        session.add(ev)
        session.commit()
        return ev.id
