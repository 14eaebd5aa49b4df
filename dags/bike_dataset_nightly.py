"""Nightly dataset build: raw rides -> per-station stats (mapped) -> the training dataset.

Every run logs a new version of ``bike-rides`` (raw), of ``bike-station-stats`` (one version
written together by the mapped ``station_stats`` instances) and of ``bike-training-set``. Each new
``bike-training-set`` version emits an event on the Asset ``x-artiflow://<registry>/default/bike-training-set``,
which schedules the ``bike_model_retrain`` DAG.

The data is synthetic and deterministic for the run's logical date, or, for a manual trigger
(Airflow 3 gives it no logical date, so ``ds`` is None), for the time it was triggered to run
after (``run_after``): every manual run gets a usable day and data of its own (no external
service).
"""

from __future__ import annotations

import csv
import json
import random

import pendulum
from airflow.sdk import dag, task

from artiflow import Output
from artiflow.operators import artifact_task

STATIONS = ["north", "south", "east", "west"]


@dag(
    dag_id="bike_dataset_nightly",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["artiflow", "example"],
)
def bike_dataset_nightly():
    @artifact_task(outputs={"rides": Output("bike-rides", type="raw-data")})
    def extract(rides, logical_date=None, dag_run=None):
        """Pull the day's rides (synthetic here) into the raw collection."""
        when = logical_date or dag_run.run_after  # manual triggers have no logical date
        day = when.strftime("%Y-%m-%d")
        rng = random.Random(when.isoformat())
        with rides.new_file("rides.csv") as f:
            w = csv.writer(f)
            w.writerow(["station", "hour", "temp", "count"])
            for i in range(400):
                station = STATIONS[i % len(STATIONS)]
                hour = rng.randrange(24)
                temp = round(rng.uniform(-5, 32), 1)
                count = max(0, int(3 * temp + 2 * (8 <= hour <= 18) * 10 + rng.gauss(0, 8)))
                w.writerow([station, hour, temp, count])
        rides.metadata["day"] = day

    @task
    def stations() -> list[str]:
        return STATIONS

    @artifact_task(
        inputs={"rides": "bike-rides"},
        outputs={"stats": Output("bike-station-stats", type="report")},
    )
    def station_stats(rides, stats, station: str):
        """One mapped instance per station; all write into ONE version of the collection."""
        with open(rides.local_path / "rides.csv") as f:
            rows = [r for r in csv.DictReader(f) if r["station"] == station]
        total = sum(int(r["count"]) for r in rows)
        with stats.new_file(f"{station}.json") as out:
            json.dump({"station": station, "rides": total, "rows": len(rows)}, out)
        return total

    @artifact_task(
        inputs={"rides": "bike-rides", "stats": "bike-station-stats"},
        outputs={"dataset": Output("bike-training-set", type="dataset", tags=["nightly"])},
    )
    def build_dataset(rides, stats, dataset):
        """Clean the raw rides into the training table; record row counts as metadata."""
        with open(rides.local_path / "rides.csv") as f:
            rows = [r for r in csv.DictReader(f) if float(r["temp"]) > -10]
        with dataset.new_file("train.csv") as f:
            w = csv.writer(f)
            w.writerow(["hour", "temp", "count"])
            for r in rows:
                w.writerow([r["hour"], r["temp"], r["count"]])
        dataset.metadata["rows"] = len(rows)
        dataset.metadata["stations"] = sorted(p.stem for p in stats.local_path.glob("*.json"))
        return len(rows)

    raw = extract()
    per_station = station_stats.expand(station=stations())
    raw >> per_station
    per_station >> build_dataset()


bike_dataset_nightly()
