"""Staleness from what was consumed (never timestamps), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import draft, open_backend

from artiflow import Registry
from artiflow._tasking import TaskContext, TaskExecution
from artiflow.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


def test_input_landing_while_the_task_runs_makes_its_output_stale_at_once(reg: Registry) -> None:
    reg.log(draft("A", "a1"))
    ctx = TaskContext("manual", pipeline="p", pipeline_run="r1", task="build-b")
    with TaskExecution(ctx, inputs={"a": "A"}, outputs={"out": "B"}, registry=reg) as ex:
        ex.open()
        reg.log(draft("A", "a2"))  # A:v1 lands while B runs
        with ex.drafts["out"].new_file("b.txt") as f:
            f.write("b")
        produced = ex.commit()
    b = produced["out"]
    found = reg.stale()
    assert [s.ref for s in found] == [b.ref]
    assert found[0].aliases == ("latest",)
    assert [m.to_dict() for m in found[0].moved] == [
        {"alias": "default/A:latest", "consumed": "default/A:v0", "now": "default/A:v1"}
    ]
    assert reg.stale(b.ref) == found


def test_a_moved_alias_makes_the_product_stale_and_vn_never_does(reg: Registry) -> None:
    for i in range(6):
        reg.log(draft("bike-dataset", f"rows {i}"), aliases=["production"] if i == 3 else ())
    with reg.run("train") as run:
        run.use("bike-dataset:production")
        model = run.log(draft("bike-demand-model", "m"), aliases=["production"])
    with reg.run("report") as run:
        run.use("bike-dataset:v3")
        report = run.log(draft("report", "r"))
    assert reg.stale() == []
    reg.alias("bike-dataset:v5", "production")
    found = reg.stale()
    assert [s.ref for s in found] == [model.ref]
    assert found[0].aliases == ("latest", "production")
    moved = found[0].moved[0]
    assert (moved.alias_ref, moved.consumed, moved.now) == (
        "default/bike-dataset:production",
        "default/bike-dataset:v3",
        "default/bike-dataset:v5",
    )
    assert reg.stale(report.ref) == []  # consumed by vN: pinned on purpose, never stale
    reg.alias("bike-dataset:v3", "production")
    assert reg.stale() == []  # back where it was consumed: fresh again


def test_cli_status(reg: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--db-url", reg.db_url, "--store-url", reg.store_url, "status"]
    reg.log(draft("A", "1"))
    with reg.run("b") as run:
        run.use("A:latest")
        run.log(draft("B", "b"))
    assert main(args) == 0 and "up to date" in capsys.readouterr().out
    reg.log(draft("A", "2"))
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "default/B:v0 [latest] is stale" in out and "now default/A:v1" in out
    assert main([*args, "B:v0", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["stale"][0]["ref"] == "default/B:v0"
