"""The AssetWatcher-scheduled DAG of tests/airflow/test_airflow_real_scheduler.py: started by
a promotion made with the artiflow CLI (no Airflow task involved), it deploys exactly the
version the promotion announced (trigger pinning from the trigger event's payload)."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetWatcher, dag

from artiflow.operators import ArtifactEventTrigger, alias_asset, artifact_task

production = alias_asset(
    "real-watched-model",
    "production",
    watchers=[
        AssetWatcher(
            name="real-watched-model-production",
            # since: every move after it counts, also one made before the triggerer started
            trigger=ArtifactEventTrigger(
                ref="real-watched-model:production",
                poll_interval=2,
                since="2000-01-01T00:00:00+00:00",
            ),
        )
    ],
)


@dag(
    dag_id="real_watcher",
    schedule=[production],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    max_active_runs=1,
)
def real_watcher():
    @artifact_task(
        inputs={"model": "real-watched-model:production"},
        outputs={"report": "real-watched-report"},
    )
    def deploy(model, report):
        with report.new_file("deployed.txt") as f:
            f.write(model.ref)
        report.metadata["deployed"] = model.ref
        return model.ref

    deploy()


real_watcher()
