"""Asset-scheduled retraining: train on the new dataset, evaluate, promote through a gate.

Scheduled on the Asset of ``bike-training-set``: every new dataset version (from
``bike_dataset_nightly``) queues a run, which trains on exactly that version (trigger pinning:
the version in the triggering asset event's extra; when Airflow merged several events into one
run, the newest of them, and the registry run's info lists all). Every later task of the run is
pinned to what ``train`` produced. ``train`` logs a ``bike-demand-model`` version (alias
``candidate``), ``evaluate`` scores it on a hold-out split and writes the score into the
version's metadata, and ``promote`` moves ``production`` to it only if ``r2 >= 0.5``. The move
emits an event on ``x-artiflow://<registry>/default/bike-demand-model/alias/production``, which schedules
``bike_model_deploy``.

The model is a small least-squares fit in pure Python.
"""

from __future__ import annotations

import csv
import json

import pendulum
from airflow.sdk import dag

from artiflow import Output
from artiflow.operators import (
    PromoteArtifactOperator,
    artifact_asset,
    artifact_task,
    use_artifact,
)


def _rows(path):
    with open(path) as f:
        return [(float(r["hour"]), float(r["temp"]), float(r["count"])) for r in csv.DictReader(f)]


def _fit(rows):
    """Least squares for count ~ a + b*temp + c*daytime (normal equations, 3x3)."""
    xs = [(1.0, t, 1.0 if 8 <= h <= 18 else 0.0) for h, t, _ in rows]
    ys = [c for _, _, c in rows]
    n = 3
    a = [[sum(x[i] * x[j] for x in xs) for j in range(n)] for i in range(n)]
    b = [sum(x[i] * y for x, y in zip(xs, ys, strict=False)) for i in range(n)]
    for i in range(n):  # Gauss-Jordan
        p = a[i][i] or 1e-9
        a[i] = [v / p for v in a[i]]
        b[i] /= p
        for k in range(n):
            if k != i:
                f = a[k][i]
                a[k] = [vk - f * vi for vk, vi in zip(a[k], a[i], strict=False)]
                b[k] -= f * b[i]
    return b


def _predict(w, h, t):
    return w[0] + w[1] * t + w[2] * (1.0 if 8 <= h <= 18 else 0.0)


@dag(
    dag_id="bike_model_retrain",
    schedule=[artifact_asset("bike-training-set")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["artiflow", "example"],
)
def bike_model_retrain():
    @artifact_task(
        # pinned to the version whose asset event triggered this run (trigger pinning), even
        # when a newer one was logged meanwhile; a manual run takes the newest
        inputs={"data": "bike-training-set"},
        outputs={"model": Output("bike-demand-model", type="model", aliases=["candidate"])},
    )
    def train(data, model):
        rows = _rows(data.local_path / "train.csv")
        split = int(len(rows) * 0.8)
        w = _fit(rows[:split])
        with model.new_file("model.json") as f:
            json.dump({"weights": w, "features": ["1", "temp", "daytime"]}, f)
        model.metadata["trained_on"] = data.ref
        model.metadata["train_rows"] = split

    @artifact_task(
        inputs={"model": "bike-demand-model"},  # pinned to the version train logged in this run
        outputs={"report": Output("bike-demand-eval", type="evaluation")},
    )
    def evaluate(model, report):
        # the exact dataset version the model was trained on (recorded as used by this run)
        data = use_artifact(model.metadata["trained_on"])
        rows = _rows(data.local_path / "train.csv")
        test = rows[int(len(rows) * 0.8) :]
        with open(model.local_path / "model.json") as f:
            w = json.load(f)["weights"]
        mean = sum(c for _, _, c in test) / len(test)
        ss_res = sum((c - _predict(w, h, t)) ** 2 for h, t, c in test)
        ss_tot = sum((c - mean) ** 2 for _, _, c in test) or 1.0
        r2 = round(1 - ss_res / ss_tot, 4)
        with report.new_file("metrics.json") as f:
            json.dump({"model": model.ref, "r2": r2, "test_rows": len(test)}, f)
        model.metadata["r2"] = r2  # the gate below reads this
        model.save()
        return r2

    promote = PromoteArtifactOperator(
        task_id="promote",
        ref="bike-demand-model",  # pinned to the version train logged in this DAG run
        alias="production",
        metric="r2",
        threshold=0.5,
    )
    train() >> evaluate() >> promote


bike_model_retrain()
