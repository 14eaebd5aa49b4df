"""The AssetWatcher DAG of tests/airflow/test_airflow_event_trigger.py's real-triggerer test:
the triggerer alone (no scheduler) turns each new version of ``evt-restart-data`` into one
asset event, across triggerer restarts. Not in the session's DAGS_FOLDER (its own folder)."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetWatcher, dag, task

from artiflow.operators import ArtifactEventTrigger, artifact_asset

data = artifact_asset(
    "evt-restart-data",
    watchers=[
        AssetWatcher(
            name="evt-restart-data-watcher",
            trigger=ArtifactEventTrigger(ref="evt-restart-data", poll_interval=0.5),
        )
    ],
)


@dag(dag_id="evt_restart_watcher", schedule=[data], start_date=pendulum.datetime(2026, 1, 1))
def evt_restart_watcher():
    @task
    def noop():
        return None

    noop()


evt_restart_watcher()
