"""The rebuild after a quarantine in Airflow (tests/airflow/test_airflow_quarantine.py): a DAG
that builds features from ``af-rb-raw:production``; replayed with ``--input`` it reads the
replacement instead."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from artiflow.operators import artifact_task

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="af_rb_features", schedule=None, start_date=START)
def af_rb_features():
    @artifact_task(inputs={"raw": "af-rb-raw:production"}, outputs={"features": "af-rb-features"})
    def featurize(raw, features):
        text = (raw.local_path / "x.txt").read_text()
        with features.new_file("f.txt") as f:
            f.write(f"features of {text}")

    featurize()


af_rb_features()
