"""Retraining flow: fit a tiny model on a ``bike-dataset`` version, evaluate it, gate it.

Both ``train`` and ``evaluate`` read ``bike-dataset:production``. Within one flow run they
read the SAME version, whatever the alias does meanwhile: the first resolution is recorded in
the flow run's run lock and every later one returns it. The deployment trigger in
``flows/deployments.py`` (``pin=True``) passes the triggering event in the ``artiflow``
parameter, which pins ``bike-dataset`` to exactly the promoted version (``default/
bike-dataset:v3``) for every task of the run; :func:`artiflow.prefect.replay` passes
``{"replay_of": <flow run id>}`` there, which makes every input the version the earlier run
read. ``evaluate`` reads ``bike-model`` with no selector: same-run pinning gives it the model
*this* run trained. ``dataset_ref`` still overrides the dataset of both tasks.

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
    dataset_ref: str | None = None,
    max_mae: float = 25.0,
    alias: str = "production",
    artiflow: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, evaluate, and promote the model when ``mae <= max_mae``.

    ``artiflow`` is filled by the pinning trigger or by ``artiflow.prefect.replay`` (the
    artifact tasks read it from the flow run); ``dataset_ref`` overrides the dataset.
    """
    del artiflow  # read by the artifact tasks from the flow run's parameters
    train_task, evaluate_task = train, evaluate
    if dataset_ref:
        train_task = with_refs(train, dataset=dataset_ref)
        evaluate_task = with_refs(evaluate, dataset=dataset_ref)
    trained = train_task.submit()
    report = evaluate_task.submit(wait_for=[trained]).result()
    report["promoted"] = report["mae"] <= max_mae
    if report["promoted"]:
        promote_model(report["model"], alias)
    return report


if __name__ == "__main__":
    print(retrain())
