"""Classic operators: log, a custom ArtifactOperator, promotion gates."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import dag, task

from artiflow.operators import (
    ArtifactOperator,
    ArtifactOperatorMixin,
    LogArtifactOperator,
    PromoteArtifactOperator,
    current_task_artifacts,
)


class ArtifactPythonOperator(ArtifactOperatorMixin, PythonOperator):
    """The mixin on an existing operator class (no __init__ of its own)."""


def _stamp():
    ta = current_task_artifacts()
    summary = ta.inputs["summary"]
    with ta.drafts["stamp"].new_file("stamp.txt") as f:
        f.write("stamped " + (summary.local_path / "summary.txt").read_text())
    return summary.ref


class Summarize(ArtifactOperator):
    def execute_artifacts(self, context, inputs, outputs):
        text = (inputs["raw"].local_path / "raw.txt").read_text()
        with outputs["summary"].new_file("summary.txt") as f:
            f.write(text.upper())
        outputs["summary"].metadata["score"] = len(text)
        return len(text)


@dag(dag_id="af_classic", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_classic():
    @task
    def prepare() -> str:
        import tempfile
        from pathlib import Path

        d = Path(tempfile.mkdtemp(prefix="af-classic-"))
        (d / "raw.txt").write_text("hello classic")
        return str(d)

    log = LogArtifactOperator(
        task_id="log_raw",
        name="classic-raw",
        path="{{ ti.xcom_pull(task_ids='prepare') }}",
        aliases=["fresh"],
    )
    summarize = Summarize(
        task_id="summarize",
        inputs={"raw": "classic-raw"},
        outputs={"summary": "classic-summary"},
    )
    gate_pass = PromoteArtifactOperator(
        task_id="promote_ok",
        ref="classic-summary",
        alias="production",
        metric="score",
        threshold=5,
    )
    gate_fail = PromoteArtifactOperator(
        task_id="promote_blocked",
        ref="classic-summary",
        alias="gold",
        metric="score",
        threshold=1000,
    )
    stamp = ArtifactPythonOperator(
        task_id="stamp",
        python_callable=_stamp,
        inputs={"summary": "classic-summary"},
        outputs={"stamp": "classic-stamp"},
    )
    prepare() >> log >> summarize >> [gate_pass, gate_fail, stamp]


af_classic()
