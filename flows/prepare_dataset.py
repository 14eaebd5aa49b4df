"""Dataset preparation flow: generate a bike-rental table, validate it, promote it.

``generate`` logs a new version of ``bike-dataset``; ``validate`` reads ``bike-dataset`` with no
selector, which same-run pinning resolves to the version *this* flow run just logged (not a
newer one from a concurrent run); ``promote_dataset`` moves an alias (``production`` by default)
to it, which emits ``artiflow.alias.moved`` and can trigger the retraining deployment
(``flows/deployments.py``).

Example:
    >>> from flows.prepare_dataset import prepare_dataset
    >>> prepare_dataset(rows=50, seed=1)        # doctest: +SKIP
    'default/bike-dataset:v0'
"""

from __future__ import annotations

import csv
import random

from prefect import flow, task

from artiflow import Output
from artiflow.prefect import artifact_task, promote

DATASET = "bike-dataset"


def make_rows(rows: int, seed: int) -> list[dict[str, float]]:
    """Deterministic synthetic data: daily rentals grow with temperature.

    Example:
        >>> make_rows(2, seed=0)[0].keys()
        dict_keys(['day', 'temp', 'rentals'])
    """
    rng = random.Random(seed)
    out = []
    for day in range(rows):
        temp = round(rng.uniform(-5.0, 32.0), 2)
        rentals = round(40.0 + 9.5 * temp + rng.gauss(0.0, 12.0), 1)
        out.append({"day": day, "temp": temp, "rentals": max(rentals, 0.0)})
    return out


@artifact_task(
    outputs={"dataset": Output(DATASET, type="dataset", description="daily bike rentals")},
)
def generate(dataset, rows: int = 200, seed: int = 0) -> int:
    """Write ``data.csv`` into the ``bike-dataset`` draft; returns the number of rows."""
    data = make_rows(rows, seed)
    with dataset.new_file("data.csv") as f:
        writer = csv.DictWriter(f, fieldnames=["day", "temp", "rentals"])
        writer.writeheader()
        writer.writerows(data)
    dataset.metadata.update(rows=rows, seed=seed)
    return rows


@artifact_task(inputs={"dataset": DATASET})
def validate(dataset, min_rows: int = 10) -> str:
    """Check the version this flow run produced; returns its exact ref."""
    with open(dataset.local_path / "data.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) < min_rows:
        raise ValueError(f"{dataset.ref} has {len(rows)} rows, fewer than {min_rows}")
    if any(float(r["rentals"]) < 0 for r in rows):
        raise ValueError(f"{dataset.ref} has negative rentals")
    return dataset.ref


@task
def promote_dataset(ref: str, alias: str) -> str:
    """Move ``alias`` to ``ref`` (emits ``artiflow.alias.moved``)."""
    return promote(ref, alias).ref


@flow(name="prepare-bike-dataset")
def prepare_dataset(rows: int = 200, seed: int = 0, promote_to: str | None = "production") -> str:
    """Generate, validate and (optionally) promote a ``bike-dataset`` version; returns its ref."""
    generated = generate.submit(rows=rows, seed=seed)
    ref = validate.submit(wait_for=[generated]).result()
    if promote_to:
        promote_dataset(ref, promote_to)
    return ref


if __name__ == "__main__":
    print(prepare_dataset())
