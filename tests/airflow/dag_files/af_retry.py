"""A try that fails, then a retry that succeeds: one version, two registry runs."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag

from artiflow.operators import artifact_task


@dag(dag_id="af_retry", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_retry():
    @artifact_task(outputs={"out": "retry-data"}, retries=1, retry_delay=timedelta(seconds=0))
    def flaky(out, ti=None):
        with out.new_file("try.txt") as f:
            f.write(f"try {ti.try_number}")
        if ti.try_number == 1:
            raise ConnectionError("transient failure on the first try")

    flaky()


af_retry()
