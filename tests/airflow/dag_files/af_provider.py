"""``@task.artiflow`` through the provider entry point."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="af_provider", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_provider():
    @task.artiflow(outputs={"out": "provider-data"})
    def make(out, n: int):
        with out.new_file("n.txt") as f:
            f.write(str(n))
        return n

    @task.artiflow(inputs={"data": "provider-data"})
    def read(data):
        return (data.local_path / "n.txt").read_text()

    make(n=7) >> read()


af_provider()
