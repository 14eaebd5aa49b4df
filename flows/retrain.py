"""Retraining flow: fit a tiny model on a ``bike-dataset`` version, evaluate it, gate it.

``dataset_ref`` defaults to ``bike-dataset:production``; the deployment trigger in
``flows/deployments.py`` passes the exact version that was promoted
(``{{ event.payload.ref }}``, e.g. ``default/bike-dataset:v3``). ``evaluate`` reads
``bike-model`` with no selector: same-run pinning gives it the model *this* run trained.

Example:
    >>> from flows.retrain import retrain
    >>> retrain("bike-dataset:production")             # doctest: +SKIP
    {'model': 'default/bike-model:v0', 'mae': 9.7, 'promoted': True}
"""

from __future__ import annotations

import csv
import json
from typing import Any

from prefect import flow, task

from artiflow import Output
from artiflow.prefect import artifact_task, promote, with_refs

DATASET = "bike-dataset"
MODEL = "bike-model"


def fit(rows: list[dict[str, str]]) -> dict[str, float]:
    """Least-squares line ``rentals = intercept + slope * temp``.

    Example:
        >>> fit([{"temp": "0", "rentals": "1"}, {"temp": "1", "rentals": "3"}])
        {'intercept': 1.0, 'slope': 2.0}
    """
    xs = [float(r["temp"]) for r in rows]
    ys = [float(r["rentals"]) for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs) or 1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    return {"intercept": round(my - slope * mx, 4), "slope": round(slope, 4)}


def read_rows(folder: Any) -> list[dict[str, str]]:
    """Rows of ``data.csv`` in a downloaded dataset version."""
    with open(folder / "data.csv", newline="") as f:
        return list(csv.DictReader(f))


@artifact_task(
    inputs={"dataset": f"{DATASET}:production"},
    outputs={"model": Output(MODEL, type="model", aliases=("candidate",))},
)
def train(dataset, model) -> dict[str, Any]:
    """Fit the model on ``dataset`` and write ``model.json`` into the ``bike-model`` draft."""
    params = fit(read_rows(dataset.local_path))
    with model.new_file("model.json") as f:
        json.dump({**params, "trained_on": dataset.ref, "digest": dataset.digest}, f)
    return params


@artifact_task(inputs={"model": MODEL, "dataset": f"{DATASET}:production"})
def evaluate(model, dataset) -> dict[str, Any]:
    """Mean absolute error of this run's model on the dataset; returns the model ref and MAE."""
    params = json.loads((model.local_path / "model.json").read_text())
    rows = read_rows(dataset.local_path)
    mae = sum(
        abs(float(r["rentals"]) - (params["intercept"] + params["slope"] * float(r["temp"])))
        for r in rows
    ) / len(rows)
    return {"model": model.ref, "mae": round(mae, 3)}


@task
def promote_model(ref: str, alias: str) -> str:
    """Move ``alias`` to the model version ``ref``."""
    return promote(ref, alias).ref


@flow(name="retrain-bike-model")
def retrain(
    dataset_ref: str = f"{DATASET}:production", max_mae: float = 25.0, alias: str = "production"
) -> dict[str, Any]:
    """Train on ``dataset_ref``, evaluate, and promote the model when ``mae <= max_mae``."""
    trained = with_refs(train, dataset=dataset_ref).submit()
    report = with_refs(evaluate, dataset=dataset_ref).submit(wait_for=[trained]).result()
    report["promoted"] = report["mae"] <= max_mae
    if report["promoted"]:
        promote_model(report["model"], alias)
    return report


if __name__ == "__main__":
    print(retrain())
