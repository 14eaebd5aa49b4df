"""The dataset DAG of tests/airflow/test_airflow_real_scheduler.py: raw data -> per-shard stats
(a mapped task: one collaborative version, parts from both Celery workers) -> the training set,
whose new versions schedule ``real_retrain``. Manual runs: the data depends on ``run_after``."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task

from artiflow.operators import artifact_task


@dag(dag_id="real_nightly", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def real_nightly():
    @artifact_task(outputs={"raw": "real-raw"})
    def extract(raw, logical_date=None, dag_run=None):
        when = logical_date or dag_run.run_after
        with raw.new_file("raw.txt") as f:
            f.write(f"rides of {when.isoformat()}")

    @task
    def shards() -> list[int]:
        return [0, 1, 2, 3]

    @artifact_task(inputs={"raw": "real-raw"}, outputs={"stats": "real-stats"})
    def stats(raw, stats, shard: int, dag_run=None):
        text = (raw.local_path / "raw.txt").read_text()
        with stats.new_file(f"shard-{shard}.txt") as f:
            f.write(f"{text} / shard {shard} / clear {dag_run.clear_number}")
        return shard

    @artifact_task(
        inputs={"raw": "real-raw", "stats": "real-stats"}, outputs={"data": "real-training-set"}
    )
    def build(raw, stats, data, dag_run=None):
        # the test staggers the two runs' versions by a few seconds: Airflow 3.3 consumes only
        # the events up to the time of the first queued one when it creates an asset-triggered
        # run, so a second event within the same scheduler loop would trigger nothing
        time.sleep(float((dag_run.conf or {}).get("publish_after_s", 0)))
        with data.new_file("train.txt") as f:
            f.write((raw.local_path / "raw.txt").read_text())
        data.metadata["stats"] = stats.ref
        return stats.ref

    raw = extract()
    parts = stats.expand(shard=shards())
    raw >> parts
    parts >> build()


real_nightly()
