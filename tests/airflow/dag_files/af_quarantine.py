"""Quarantine in Airflow (tests/airflow/test_airflow_quarantine.py): a build with a gated
promotion, a task that quarantines its input (asset events on every affected collection), and
a task consuming the quarantined version (it fails before its code runs, nothing committed)."""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

from artiflow.operators import (
    PromoteArtifactOperator,
    alias_asset,
    artifact_asset,
    artifact_task,
    current_task_artifacts,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def marker() -> Path:
    """The file the consumer's code writes when it runs (it must not)."""
    return Path(os.environ["ARTIFLOW_HOME"]) / "af-q-consumer-ran"


@dag(dag_id="af_q_build", schedule=None, start_date=START)
def af_q_build():
    @artifact_task(outputs={"raw": "af-q-raw"})
    def raw(raw):
        with raw.new_file("rows.csv") as f:
            f.write("a,b\n1,2\n")

    @artifact_task(inputs={"raw": "af-q-raw"}, outputs={"model": "af-q-model"})
    def train(raw, model):
        with model.new_file("model.txt") as f:
            f.write((raw.local_path / "rows.csv").read_text())
        model.metadata["auc"] = 0.9

    ok = PromoteArtifactOperator(
        task_id="promote_ok", ref="af-q-model", alias="production", metric="auc", threshold=0.8
    )
    blocked = PromoteArtifactOperator(
        task_id="promote_blocked",
        ref="af-q-model",
        alias="gold",
        metric="auc",
        threshold=0.99,
        check_name="auc-gold",
    )
    t = train()
    raw() >> t
    t >> ok >> blocked


@dag(dag_id="af_q_guard", schedule=None, start_date=START)
def af_q_guard():
    @artifact_task(
        inputs={"raw": "af-q-raw:v0"},
        outlets=[artifact_asset("af-q-raw"), artifact_asset("af-q-model")],
    )
    def validate(raw):
        ta = current_task_artifacts()
        ta.registry.quarantine(raw.ref, "row count dropped 90%", by="validate")

    validate()


@dag(dag_id="af_q_consume", schedule=None, start_date=START)
def af_q_consume():
    @artifact_task(inputs={"raw": "af-q-raw"}, outputs={"out": "af-q-report"})
    def report(raw, out):
        marker().write_text("ran")
        with out.new_file("r.txt") as f:
            f.write("never committed")

    report()


@dag(dag_id="af_q_on_bad_model", schedule=[artifact_asset("af-q-model")], start_date=START)
def af_q_on_bad_model():
    @task
    def page_someone():
        return None

    page_someone()


@dag(dag_id="af_q_freshness", schedule=None, start_date=START)
def af_q_freshness():
    @artifact_task(outlets=[alias_asset("af-q-fresh", "production")])
    def check_freshness():
        current_task_artifacts().registry.overdue(emit=True)

    check_freshness()


af_q_build()
af_q_guard()
af_q_freshness()
af_q_consume()
af_q_on_bad_model()
