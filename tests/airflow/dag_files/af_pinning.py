"""Same-run pinning against a concurrent writer (tests/airflow/test_decorator.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from artiflow.operators import artifact_task


@dag(dag_id="af_pinning", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_pinning():
    @artifact_task(outputs={"out": "pin-data"})
    def produce(out, run_id=None):
        with out.new_file("data.txt") as f:
            f.write(f"from the DAG run {run_id}")

    @task
    def intruder(run_id=None):
        """Another writer (its own Registry) logs a newer version and moves an alias."""
        from artiflow import Artifact, Registry

        reg = Registry()
        draft = Artifact("pin-data")
        with draft.new_file("data.txt") as f:
            f.write(f"from someone else during {run_id}")
        v = reg.log(draft, aliases=["hot"])
        reg.close()
        return v.ref

    @artifact_task(
        inputs={"pinned": "pin-data", "pinned_latest": "pin-data:latest", "hot": "pin-data:hot"}
    )
    def consume(pinned, pinned_latest, hot):
        return {
            "pinned": pinned.ref,
            "pinned_latest": pinned_latest.ref,
            "hot": hot.ref,
            "text": (pinned.local_path / "data.txt").read_text(),
        }

    produce() >> intruder() >> consume()


af_pinning()
