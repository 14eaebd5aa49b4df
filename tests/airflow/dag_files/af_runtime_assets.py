"""Run-time assets: a task whose code picks the collection and the alias it writes, and
announces them through an artiflow AssetAlias (``outlet_events[alias].add(Asset(...))``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from artiflow import Artifact
from artiflow.operators import alias_asset, artifact_alias, artifact_task, current_task_artifacts


@dag(
    dag_id="af_runtime_producer", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")
)
def af_runtime_producer():
    @artifact_task(outputs={"m": "rt-model"})
    def train(m):
        with m.new_file("model.txt") as f:
            f.write("model")

    @artifact_task(inputs={"model": "rt-model"}, outlets=[artifact_alias()])
    def stage(model, dag_run=None):
        ta = current_task_artifacts()
        run = ta.start()
        # names decided at run time: no Asset outlet declares them
        ta.registry.alias(model.ref, "staging", run=run)
        report = Artifact(f"rt-report-{(dag_run.conf or {}).get('region', 'eu')}")
        with report.new_file("r.txt") as f:
            f.write(model.ref)
        return run.log(report).ref

    train() >> stage()


@dag(
    dag_id="af_on_staging",
    schedule=[alias_asset("rt-model", "staging")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
)
def af_on_staging():
    @task
    def noop():
        return None

    noop()


af_runtime_producer()
af_on_staging()
