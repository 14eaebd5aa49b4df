"""The asset-scheduled consumer of tests/airflow/test_airflow_real_scheduler.py: trains on the
training-set version whose asset event triggered the run (trigger pinning)."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task

from artiflow.operators import artifact_asset, artifact_task


@dag(
    dag_id="real_retrain",
    schedule=[artifact_asset("real-training-set")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
)
def real_retrain():
    @task
    def wait_for_both_versions():
        """Start training only once both nightly versions exist: without trigger pinning, the
        run triggered by the first version would then train on the second."""
        from artiflow.operators import get_registry

        reg = get_registry()
        for _ in range(120):
            if len(reg.versions("real-training-set")) >= 2:
                return
            time.sleep(1)
        raise TimeoutError("the second nightly version never appeared")

    @artifact_task(inputs={"data": "real-training-set"}, outputs={"model": "real-model"})
    def train(data, model):
        with model.new_file("model.txt") as f:
            f.write(f"trained on {data.ref}: {(data.local_path / 'train.txt').read_text()}")
        model.metadata["trained_on"] = data.ref
        return data.ref

    @artifact_task(inputs={"model": "real-model", "data": "real-training-set"})
    def evaluate(model, data):
        assert model.metadata["trained_on"] == data.ref, (model.ref, data.ref)
        return data.ref

    wait_for_both_versions() >> train() >> evaluate()


real_retrain()
