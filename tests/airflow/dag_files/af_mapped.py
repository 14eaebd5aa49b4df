"""A mapped artifact task writing one collaborative version (tests/airflow/test_decorator.py)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from artiflow.operators import artifact_task


@dag(dag_id="af_mapped", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def af_mapped():
    @artifact_task(outputs={"seed": "mapped-seed"})
    def seed(seed):
        with seed.new_file("seed.txt") as f:
            f.write("seed")

    @task
    def shards() -> list[int]:
        return [0, 1, 2]

    @artifact_task(inputs={"seed": "mapped-seed"}, outputs={"part": "mapped-parts"})
    def write_part(seed, part, shard: int):
        with part.new_file(f"part-{shard}.txt") as f:
            f.write(f"{(seed.local_path / 'seed.txt').read_text()}-{shard}")
        return shard * 10

    @artifact_task(inputs={"parts": "mapped-parts"})
    def read_parts(parts, values):
        return {
            "ref": parts.ref,
            "files": sorted(p.name for p in parts.local_path.iterdir()),
            "values": list(values),
        }

    s = seed()
    parts = write_part.expand(shard=shards())
    s >> parts
    read_parts(values=parts)


af_mapped()
