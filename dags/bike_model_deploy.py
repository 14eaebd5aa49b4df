"""Runs when ``production`` moves on ``bike-demand-model`` (the Asset of that alias).

It reads the promoted version from the triggering asset event's extra (ref, version, digest,
aliases) and "deploys" it: here, downloads it and records the deployment as a registry run.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from artiflow.operators import alias_asset, artifact_task


@dag(
    dag_id="bike_model_deploy",
    schedule=[alias_asset("bike-demand-model", "production")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["artiflow", "example"],
)
def bike_model_deploy():
    @artifact_task(inputs={"model": "bike-demand-model:production"})
    def deploy(model, triggering_asset_events=None):
        refs = [
            e.extra.get("ref")
            for events in (triggering_asset_events or {}).values()
            for e in events
        ]
        print(f"deploying {model.ref} (events: {refs}) from {model.local_path}")
        return model.ref

    deploy()


bike_model_deploy()
