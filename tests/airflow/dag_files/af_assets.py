"""Asset events: a producer with an aliased output, and consumers scheduled on the assets."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from artiflow import Output
from artiflow.operators import (
    PromoteArtifactOperator,
    alias_asset,
    artifact_asset,
    artifact_task,
)


@dag(dag_id="af_assets_producer", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_assets_producer():
    @artifact_task(outputs={"m": Output("asset-model", type="model", aliases=["candidate"])})
    def train(m, dag_run=None):
        with m.new_file("model.txt") as f:
            f.write(str((dag_run.conf or {}).get("content", "same")))
        m.metadata["auc"] = 0.9

    promote = PromoteArtifactOperator(
        task_id="promote", ref="asset-model", alias="production", metric="auc", threshold=0.5
    )
    train() >> promote


@dag(
    dag_id="af_on_new_model",
    schedule=[artifact_asset("asset-model")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
)
def af_on_new_model():
    @task
    def noop():
        return None

    noop()


@dag(
    dag_id="af_on_promotion",
    schedule=[alias_asset("asset-model", "production")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
)
def af_on_promotion():
    @task
    def noop():
        return None

    noop()


af_assets_producer()
af_on_new_model()
af_on_promotion()
