"""Clears of finished runs: a mapped task (one collaborative version) and a plain task, each
with a consumer. The content depends on the DAG run's clear number, so a clear that re-runs a
task produces a new version (tests/airflow/test_airflow_runs.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from artiflow.operators import artifact_task


@dag(dag_id="af_clear", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_clear():
    @task
    def shards() -> list[int]:
        return [0, 1, 2]

    @artifact_task(outputs={"part": "clear-parts"})
    def write_part(part, shard: int, dag_run=None):
        with part.new_file(f"part-{shard}.txt") as f:
            f.write(f"{shard}-clear{dag_run.clear_number}")
        return shard

    @artifact_task(inputs={"parts": "clear-parts"})
    def read_parts(parts):
        return {
            "ref": parts.ref,
            "files": {p.name: p.read_text() for p in sorted(parts.local_path.iterdir())},
        }

    @artifact_task(outputs={"out": "clear-single"})
    def single(out, dag_run=None):
        with out.new_file("single.txt") as f:
            f.write(f"clear{dag_run.clear_number}")

    @artifact_task(inputs={"data": "clear-single"})
    def read_single(data):
        return {"ref": data.ref, "text": (data.local_path / "single.txt").read_text()}

    parts = write_part.expand(shard=shards())
    parts >> read_parts()
    single() >> read_single()


af_clear()
