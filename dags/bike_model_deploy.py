"""Runs when ``production`` moves on ``bike-demand-model`` (the Asset of that alias).

It deploys exactly the version whose promotion triggered the run (trigger pinning: the version
in the triggering asset event's extra, even when ``production`` moved again meanwhile); a manual
run deploys what ``production`` names now. "Deploying" here downloads it and records the
deployment as a registry run.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from artiflow.operators import alias_asset, artifact_task, use_artifact


@dag(
    dag_id="bike_model_deploy",
    schedule=[alias_asset("bike-demand-model", "production")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["artiflow", "example"],
)
def bike_model_deploy():
    @artifact_task()
    def deploy(triggering_asset_events=None):
        # a triggered run: "bike-demand-model" is pinned to the promoted version of the event
        ref = "bike-demand-model" if triggering_asset_events else "bike-demand-model:production"
        model = use_artifact(ref)
        print(f"deploying {model.ref} from {model.local_path}")
        return model.ref

    deploy()


bike_model_deploy()
