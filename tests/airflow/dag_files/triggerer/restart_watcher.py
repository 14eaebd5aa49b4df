"""The AssetWatcher DAG of tests/airflow/test_airflow_event_trigger.py's real-triggerer test:
the triggerer alone (no scheduler) turns each new version of ``evt-restart-data``, each move of
its ``production`` alias and each quarantine / release reaching it into one asset event, across
triggerer restarts. Two watchers share the collection's Asset (two cursors in its state store).
Not in the session's DAGS_FOLDER (a folder of its own)."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetWatcher, dag, task

from artiflow.operators import ArtifactEventTrigger, alias_asset, artifact_asset

data = artifact_asset(
    "evt-restart-data",
    watchers=[
        AssetWatcher(
            name="evt-restart-data-watcher",
            trigger=ArtifactEventTrigger(ref="evt-restart-data", poll_interval=0.5),
        ),
        AssetWatcher(
            name="evt-restart-data-quarantines",
            trigger=ArtifactEventTrigger(
                ref="evt-restart-data",
                poll_interval=0.5,
                kinds=["version.quarantined", "version.released"],
            ),
        ),
    ],
)
production = alias_asset(
    "evt-restart-data",
    "production",
    watchers=[
        AssetWatcher(
            name="evt-restart-data-production",
            trigger=ArtifactEventTrigger(ref="evt-restart-data:production", poll_interval=0.5),
        )
    ],
)


@dag(
    dag_id="evt_restart_watcher",
    schedule=[data, production],
    start_date=pendulum.datetime(2026, 1, 1),
)
def evt_restart_watcher():
    @task
    def noop():
        return None

    noop()


evt_restart_watcher()
