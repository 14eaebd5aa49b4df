"""Helpers for the Airflow tests: read task states and XComs of a finished DagRun."""

from __future__ import annotations

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
