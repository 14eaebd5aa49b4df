"""Impact analysis on SQLite and PostgreSQL: what was built from a version, the aliases on it,
the connecting paths, the rebuild plan in dependency order, and the CLI (human and JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import Pipeline, build_pipeline, open_backend

from artiflow import Impact, InvalidRefError, Registry
from artiflow.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


@pytest.fixture
def pipe(reg: Registry) -> Pipeline:
    return build_pipeline(reg)


def _cli(reg: Registry, *args: str) -> list[str]:
    return ["--db-url", reg.db_url, "--store-url", reg.store_url, *args]


def test_impact_lists_exactly_the_v3_branch_with_paths_and_aliases(
    reg: Registry, pipe: Pipeline
) -> None:
    result = reg.impact("raw:v3")
    assert isinstance(result, Impact)
    a = pipe.a
    assert result.root == "default/raw:v3"
    assert set(result.refs) == {
        a["features"].ref,
        a["model"].ref,
        a["predictions"].ref,
        pipe.member.ref,
    }
    assert not {v.ref for v in pipe.b.values()} & set(result.refs)
    by_ref = {v.ref: v for v in result.versions}
    pred = by_ref[a["predictions"].ref]
    assert pred.path == ("default/raw:v3", a["features"].ref, a["model"].ref, pred.ref)
    assert pred.depth == 3 and len(pred.via) == 3 and all(pred.via)
    member = by_ref[pipe.member.ref]
    assert member.path[-2:] == (a["model"].ref, pipe.member.ref) and member.via[-1] is None
    aliases = {x.ref for x in result.aliases}
    assert {"default/model:production", "model-registry/bike:production"} <= aliases
    # the v4 branch is the newest: latest is on none of the v3-derived versions
    assert not any(x.alias == "latest" for x in result.aliases if x.collection != "bike")
    assert list(result.by_collection()) == [
        "default/features",
        "default/model",
        "default/predictions",
        "model-registry/bike",
    ]


def test_depth_bounds_the_walk(reg: Registry, pipe: Pipeline) -> None:
    assert reg.impact("raw:v3", depth=1).refs == [pipe.a["features"].ref]
    assert reg.impact("raw:v3", depth=0).refs == []
    with pytest.raises(InvalidRefError, match="depth"):
        reg.impact("raw:v3", depth=-1)
    assert reg.impact("raw:v0").refs == []  # nothing was built from it


def test_rebuild_plan_in_dependency_order(reg: Registry, pipe: Pipeline) -> None:
    from artiflow._ops.impact import rebuild_plan

    steps = rebuild_plan(reg, reg.impact("raw:v3"), "raw:v4")
    assert [s.tasks for s in steps] == [("featurize",), ("train",), ("predict",)]
    assert [s.pipeline_run for s in steps] == ["a-featurize", "a-train", "a-predict"]
    assert steps[0].command == (
        "artiflow replay a-featurize --orchestrator airflow --pipeline features-dag "
        "--input default/raw=raw:v4"
    )
    assert steps[1].command == (
        "artiflow replay a-train --orchestrator airflow --pipeline train-dag "
        "--input default/features=default/features:latest"
    )
    assert steps[0].replace == {"default/raw:v3": "raw:v4"} and steps[1].replace == {}
    assert steps[2].outputs == (pipe.a["predictions"].ref,)


def test_cli_impact_human_json_and_plan(
    reg: Registry, pipe: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_cli(reg, "impact", "raw:v3")) == 0
    out = capsys.readouterr().out
    assert "default/raw:v3: 4 versions built from it" in out
    assert "  default/model\n    v0 [production]" in out
    assert main(_cli(reg, "impact", "raw:v3", "--json", "--plan")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "artiflow.impact/1" and data["count"] == 4
    assert set(data["versions"][0]) == {
        "ref",
        "project",
        "collection",
        "version",
        "index",
        "state",
        "depth",
        "aliases",
        "path",
        "via",
    }
    assert [s["tasks"] for s in data["plan"]] == [["featurize"], ["train"], ["predict"]]
    assert main(_cli(reg, "impact", "raw:v3", "--plan")) == 0
    out = capsys.readouterr().out
    assert "rebuild plan:" in out and "artiflow replay a-train --orchestrator airflow" in out
    assert main(_cli(reg, "impact", "nope:v0")) == 3  # not found


def test_bad_data_demo_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "examples" / "bad_data_demo.py"), "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    assert "3 versions built from it" in out and "rebuild plan:" in out
    assert "refused: default/bike-demand-model:v0 was built from default/bike-raw:v0" in out


def test_equally_short_paths_go_through_the_smallest_parent_on_both_backends(
    reg: Registry,
) -> None:
    """C is two steps from raw through A and through B; the path goes through A (the smaller
    version id) on SQLite and PostgreSQL alike, whichever was found first."""
    from artiflow import Artifact

    def draft(name: str) -> Artifact:
        d = Artifact(name)
        with d.new_file("x.txt") as f:
            f.write(name)
        return d

    raw = reg.log(draft("tie-raw"))
    with reg.run("make-b") as rb:
        rb.use(raw.ref)  # B's run consumed raw first, so it is found first
        with reg.run("make-a") as ra:
            ra.use(raw.ref)
            a = ra.log(draft("tie-a"))
        b = rb.log(draft("tie-b"))
    assert a.id < b.id
    with reg.run("make-c") as rc:
        rc.use(b.ref)
        rc.use(a.ref)
        c = rc.log(draft("tie-c"))
    (found,) = [v for v in reg.impact(raw.ref).versions if v.ref == c.ref]
    assert found.path == (raw.ref, a.ref, c.ref)
    assert found.via == (ra.id, rc.id)
