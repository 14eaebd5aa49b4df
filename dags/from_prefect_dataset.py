"""Airflow DAG that trains on a dataset version a Prefect flow produced (cross-orchestrator).

The Prefect flow ``flows/prepare_dataset.py`` logs ``bike-dataset`` and promotes it to
``production``; this DAG reads ``bike-dataset:production`` from the same registry and logs
``airflow-bike-model``. ``artiflow lineage airflow-bike-model:latest`` then shows the Airflow task
run that produced the model, the dataset version, and the Prefect task run that produced it.
Run by ``examples/prefect_demo.py`` and ``tests/prefect/test_cross_orchestrator.py``.
"""

from __future__ import annotations

import csv
import json

import pendulum
from airflow.sdk import dag

from artiflow import Output
from artiflow.operators import artifact_task


@dag(
    dag_id="from_prefect_dataset",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["artiflow", "prefect", "cross-orchestrator"],
)
def from_prefect_dataset():
    @artifact_task(
        inputs={"dataset": "bike-dataset:production"},
        outputs={"model": Output("airflow-bike-model", type="model")},
    )
    def train_on_prefect_dataset(dataset, model):
        """Fit rentals = intercept + slope * temp on the promoted (Prefect-made) dataset."""
        with open(dataset.local_path / "data.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        xs = [float(r["temp"]) for r in rows]
        ys = [float(r["rentals"]) for r in rows]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs) or 1.0
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
        with model.new_file("model.json") as f:
            json.dump({"intercept": my - slope * mx, "slope": slope}, f)
        model.metadata["trained_on"] = dataset.ref
        return dataset.ref

    train_on_prefect_dataset()


from_prefect_dataset()
