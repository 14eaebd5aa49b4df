"""Shared by the lineage-control tests: a registry on SQLite or PostgreSQL, and a pipeline.

The pipeline: ``raw`` (v0..v4) -> ``features`` -> ``model`` -> ``predictions`` in two branches,
one consuming ``raw:v3`` (Airflow-like runs), one ``raw:v4`` (Prefect-like runs); the v3 model
carries ``model:production`` and is linked into ``model-registry/bike`` as ``production``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from artiflow import Artifact, ArtifactVersion, Registry

_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 100)


def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database named ``h_control_<n>`` on the server of
    ``ARTIFLOW_TEST_POSTGRES_URL`` (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    raw = os.environ.get("ARTIFLOW_TEST_POSTGRES_URL")
    if not raw:
        pytest.skip("set ARTIFLOW_TEST_POSTGRES_URL to run the PostgreSQL cases")
    base = make_url(raw)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"h_control_{next(_counter)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def open_backend(kind: str, tmp_path: Path) -> Iterator[Registry]:
    if kind == "sqlite":
        reg = Registry(
            db_url=f"sqlite:///{tmp_path / 'registry.db'}",
            store_url=str(tmp_path / "objects"),
            home=tmp_path / "home",
        )
        yield reg
        reg.close()
        return
    for url in pg_database():
        reg = Registry(db_url=url, store_url=str(tmp_path / "objects"), home=tmp_path / "home")
        yield reg
        reg.close()


def draft(name: str, text: str, type: str = "dataset") -> Artifact:
    art = Artifact(name, type=type)
    with art.new_file("data.txt") as f:
        f.write(text)
    return art


@dataclass
class Pipeline:
    raw: list[ArtifactVersion]
    a: dict[str, ArtifactVersion]  # the raw:v3 branch
    b: dict[str, ArtifactVersion]  # the raw:v4 branch
    member: ArtifactVersion


def build_pipeline(reg: Registry) -> Pipeline:
    raw = [reg.log(draft("raw", f"raw {i}")) for i in range(5)]

    def branch(src: str, orch: str, tag: str) -> dict[str, ArtifactVersion]:
        out: dict[str, ArtifactVersion] = {}
        steps = [
            ("featurize", "features-dag", src, "features"),
            ("train", "train-dag", "features", "model"),
            ("predict", "predict-dag", "model", "predictions"),
        ]
        prev = src
        for task, pipeline, _inp, output in steps:
            with reg.run(
                task, orchestrator=orch, pipeline=pipeline, pipeline_run=f"{tag}-{task}", task=task
            ) as run:
                run.use(prev)
                v = run.log(draft(output, f"{output} from {tag}", type="model"))
            out[output] = v
            prev = v.ref
        return out

    a = branch("raw:v3", "airflow", "a")
    reg.alias(a["model"].ref, "production")
    b = branch("raw:v4", "prefect", "b")
    member = reg.link(a["model"].ref, "model-registry/bike", aliases=["production"])
    return Pipeline(raw, a, b, member)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_pipeline_records_one_consumed_edge_per_step(kind: str, tmp_path: Path) -> None:
    for reg in open_backend(kind, tmp_path):
        pipe = build_pipeline(reg)
        run = pipe.a["model"].logged_by()
        assert run is not None and [v.ref for v in run.used_artifacts()] == [pipe.a["features"].ref]
