"""ArtifactSensor: a deferrable wait on an alias move, a poke wait on a new version."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from artiflow.operators import ArtifactSensor


@dag(dag_id="af_sensor", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_sensor():
    wait_alias = ArtifactSensor(
        task_id="wait_alias",
        ref="sensor-data:production",
        deferrable=True,
        poke_interval=0.2,
        timeout=60,
    )
    wait_new = ArtifactSensor(
        task_id="wait_new",
        ref="sensor-data",
        since="v0",
        mode="poke",
        poke_interval=0.1,
        timeout=30,
    )
    wait_alias >> wait_new


af_sensor()
