"""Failure atomicity and the listener (tests/airflow/test_decorator.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from artiflow.operators import artifact_task


@dag(dag_id="af_failure", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_failure():
    @artifact_task(outputs={"a": "fail-a", "b": "fail-b"})
    def half_written(a, b):
        with a.new_file("a.txt") as f:
            f.write("written before the crash")
        raise RuntimeError("boom after writing a")

    @artifact_task(outputs={"a": "fail-c", "b": "fail-d"})
    def one_empty(a, b):
        with a.new_file("a.txt") as f:
            f.write("b stays empty")

    @artifact_task(outputs={"out": "fail-e"})
    def bad_template(out, value):
        with out.new_file("x.txt") as f:
            f.write(str(value))

    half_written()
    one_empty()
    bad_template(value="{{ no_such_variable.attribute }}")


af_failure()
