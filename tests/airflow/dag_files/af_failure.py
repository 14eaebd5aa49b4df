"""Failure atomicity and the listener (tests/airflow/test_decorator.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from artiflow import Output
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

    @artifact_task(outputs={"a": "fail-f", "b": Output("fail-g", type="model")})
    def second_output_rejected(a, b):
        # fail-g already holds datasets (seeded by the test): the commit of b fails, so a,
        # logged in the same commit, must not become visible either
        with a.new_file("a.txt") as f:
            f.write("fine on its own")
        with b.new_file("b.txt") as f:
            f.write("rejected at commit")

    half_written()
    one_empty()
    second_output_rejected()
    bad_template(value="{{ no_such_variable.attribute }}")


af_failure()
