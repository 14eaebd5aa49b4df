"""Quarantine on SQLite and PostgreSQL: quarantining ``raw:v3`` taints exactly the v3-derived
versions; aliases onto them refuse to resolve (naming ``raw:v3``), ``vN`` still resolves, alias
moves onto them are refused, an artifact task consuming one fails before its code runs and
commits nothing, one event per affected collection, and release restores the earlier state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import Pipeline, build_pipeline, draft, open_backend

from artiflow import (
    ArtifactNotFoundError,
    ArtiflowError,
    ConflictError,
    InvalidRefError,
    QuarantinedError,
    Registry,
    RegistryEvent,
)
from artiflow._tasking import TaskContext, TaskExecution
from artiflow.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


@pytest.fixture
def pipe(reg: Registry) -> Pipeline:
    return build_pipeline(reg)


def _cli(reg: Registry, *args: str) -> list[str]:
    return ["--db-url", reg.db_url, "--store-url", reg.store_url, *args]


def test_quarantine_taints_exactly_the_v3_branch(reg: Registry, pipe: Pipeline) -> None:
    q = reg.quarantine("raw:v3", "sensor 7 sent zeros", by="ana")
    assert (q.ref, q.reason, q.by, q.active) == (
        "default/raw:v3",
        "sensor 7 sent zeros",
        "ana",
        True,
    )
    with pytest.raises(QuarantinedError) as err:
        reg.get("model:production")
    assert isinstance(err.value, ArtiflowError)
    assert err.value.root == "default/raw:v3" and err.value.reason == "sensor 7 sent zeros"
    assert "raw:v3" in str(err.value) and "artiflow release" in str(err.value)
    with pytest.raises(QuarantinedError, match="raw:v3"):
        reg.get("model-registry/bike:production")  # through the registry link too
    # vN still resolves, and tells its state
    model = reg.get(pipe.a["model"].ref)
    assert model.quarantined is None
    assert model.tainted_by is not None and model.tainted_by.ref == "default/raw:v3"
    root = reg.get("raw:v3")
    assert root.quarantined is not None and root.quarantined.reason == "sensor 7 sent zeros"
    assert root.tainted_by is None
    # the override
    assert reg.get("model:production", allow_quarantined=True).id == pipe.a["model"].id
    # the v4 branch and raw:latest (v4) are untouched
    assert reg.get("raw").version == "v4"
    for name in ("features", "model", "predictions"):
        assert reg.get(name).id == pipe.b[name].id
        assert reg.get(pipe.b[name].ref).tainted_by is None


def test_latest_on_a_quarantined_version_is_refused(reg: Registry, pipe: Pipeline) -> None:
    reg.quarantine("raw:v4", "truncated file")
    for ref in ("raw", "raw:latest", "predictions:latest"):
        with pytest.raises(QuarantinedError, match="raw:v4"):
            reg.get(ref)
    assert reg.get("raw:v3").version == "v3"


def test_moving_an_alias_onto_a_tainted_version_is_refused(reg: Registry, pipe: Pipeline) -> None:
    reg.quarantine("raw:v3", "bad")
    with pytest.raises(QuarantinedError, match="alias 'staging'"):
        reg.alias(pipe.a["features"].ref, "staging")
    v = reg.get(pipe.a["predictions"].ref)
    v.aliases.append("production")
    with pytest.raises(QuarantinedError):
        v.save()
    assert reg.get(pipe.a["predictions"].ref).aliases == []
    with pytest.raises(QuarantinedError):
        reg.alias("raw:v3", "golden")
    reg.alias(pipe.b["features"].ref, "staging")  # clean versions still take aliases


def test_a_version_built_later_from_the_quarantined_one_is_tainted(
    reg: Registry, pipe: Pipeline
) -> None:
    reg.quarantine("raw:v3", "bad")
    with reg.run("late", orchestrator="manual") as run:
        run.use("raw:v3")  # vN resolves: someone investigates
        late = run.log(draft("late-report", "built on v3"))
    with pytest.raises(QuarantinedError, match="raw:v3"):
        reg.get("late-report")
    assert reg.get(late.ref).tainted_by is not None


def test_artifact_task_fails_before_user_code_and_commits_nothing(
    reg: Registry, pipe: Pipeline
) -> None:
    reg.quarantine("raw:v3", "sensor 7 sent zeros")
    ctx = TaskContext("manual", pipeline="score", pipeline_run="s1", task="score")
    ran = []
    with (
        pytest.raises(QuarantinedError, match="raw:v3"),
        TaskExecution(
            ctx, inputs={"model": "model:production"}, outputs={"out": "scores"}, registry=reg
        ) as ex,
    ):
        ex.open()
        ran.append("user code")  # never reached
        ex.commit()
    assert ran == [] and ex.state == "FAILED"
    assert ex.run is not None and "QuarantinedError" in (reg.get_run(ex.run.id).error or "")
    assert ex.run.used_artifacts() == [] and ex.run.logged_artifacts() == []
    with pytest.raises(ArtifactNotFoundError):
        reg.get("scores")


def test_one_event_per_affected_collection_and_release_restores(
    reg: Registry, pipe: Pipeline
) -> None:
    seen: list[RegistryEvent] = []
    reg.subscribe(seen.append)
    reg.quarantine("raw:v3", "bad", by="ana")
    assert [e.kind for e in seen] == ["version.quarantined"] * 5
    assert sorted(f"{e.project}/{e.name}" for e in seen) == [
        "default/features",
        "default/model",
        "default/predictions",
        "default/raw",
        "model-registry/bike",
    ]
    model_event = next(e for e in seen if e.name == "model")
    assert model_event.details["root"] == "default/raw:v3"
    assert model_event.details["affected"] == [pipe.a["model"].ref]
    assert "production" in model_event.aliases
    raw_event = next(e for e in seen if e.name == "raw")
    assert raw_event.ref == "default/raw:v3" and raw_event.details["reason"] == "bad"
    seen.clear()
    released = reg.release("raw:v3", by="bo", note="false alarm")
    assert released.released_by == "bo" and released.release_note == "false alarm"
    assert released.at is not None and released.released_at is not None
    assert [e.kind for e in seen] == ["version.released"] * 5
    assert reg.get("model:production").id == pipe.a["model"].id
    assert reg.get(pipe.a["model"].ref).tainted_by is None
    reg.alias(pipe.a["features"].ref, "staging")


def test_errors_are_clear(reg: Registry, pipe: Pipeline) -> None:
    with pytest.raises(InvalidRefError, match="reason"):
        reg.quarantine("raw:v3", "  ")
    reg.quarantine("raw:v3", "bad")
    with pytest.raises(ConflictError, match="quarantined already"):
        reg.quarantine("raw:v3", "worse")
    with pytest.raises(ArtifactNotFoundError, match="not quarantined"):
        reg.release("raw:v2")
    with pytest.raises(ArtifactNotFoundError):
        reg.quarantine("raw:v99", "bad")


def test_nested_quarantines_name_the_nearest_root(reg: Registry, pipe: Pipeline) -> None:
    reg.quarantine("raw:v3", "bad raw")
    reg.quarantine(pipe.a["model"].ref, "bad model")
    with pytest.raises(QuarantinedError) as err:
        reg.get("model:production")
    assert err.value.root == pipe.a["model"].ref
    reg.release(pipe.a["model"].ref)
    with pytest.raises(QuarantinedError) as err:
        reg.get("model:production")
    assert err.value.root == "default/raw:v3"  # still tainted by the other quarantine


def test_cli_quarantine_release_and_refused_get(
    reg: Registry, pipe: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(_cli(reg, "quarantine", "raw:v3", "--reason", "zeros", "--by", "ana")) == 0
    out = capsys.readouterr().out
    assert "quarantined default/raw:v3: zeros (by ana)" in out and "default/model" in out
    assert main(_cli(reg, "get", "model:production", "-o", str(tmp_path / "m"))) == 4
    assert "raw:v3" in capsys.readouterr().err
    assert main(_cli(reg, "quarantine", "raw:v3", "--reason", "again")) == 4
    capsys.readouterr()
    assert main(_cli(reg, "release", "raw:v3", "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["quarantine"]["active"] is False and data["quarantine"]["reason"] == "zeros"
    assert main(_cli(reg, "release", "raw:v3")) == 3  # no active quarantine to release


def test_linking_a_tainted_version_with_an_alias_is_refused(reg: Registry, pipe: Pipeline) -> None:
    reg.quarantine("raw:v3", "bad")
    with pytest.raises(QuarantinedError, match="raw:v3"):
        reg.link(pipe.a["predictions"].ref, "model-registry/preds", aliases=["production"])
    reg.link(pipe.b["predictions"].ref, "model-registry/preds", aliases=["production"])
