"""The rebuild plan after a quarantine, run end to end on the shared task runtime (what the
Airflow and Prefect adapters drive): ``artiflow impact raw:v1 --plan --replace raw:v1=raw:v2``
prints per producing task the exact ``artiflow replay ... --input`` command; running those
commands in order re-runs the tasks on ``raw:v2`` (the resolver reads the derived lock), and the
rebuilt model is clean. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_control_pipeline import draft, open_backend

from artiflow import QuarantinedError, Registry, RunLockError
from artiflow._ops.replay import start_replay
from artiflow._tasking import PipelineRun, TaskContext, TaskExecution
from artiflow.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


def _task(
    reg: Registry, dag: str, run_id: str, task: str, src: str, out: str, replay: str | None = None
) -> str:
    """One artifact task: reads ``src`` and writes ``out`` = "<out> of <what it read>"."""
    ctx = TaskContext(
        "airflow",
        dag,
        run_id,
        task,
        replay_of=PipelineRun("airflow", dag, replay) if replay else None,
    )
    with TaskExecution(ctx, inputs={"x": src}, outputs={"y": out}, registry=reg) as ex:
        ex.open()
        read = (ex.inputs["x"].download() / "data.txt").read_text()
        with ex.drafts["y"].new_file("data.txt") as f:
            f.write(f"{out} of [{read}]")
        (made,) = ex.commit().values()
    return str(made.ref)


def _cli(reg: Registry, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--db-url", reg.db_url, "--store-url", reg.store_url, *args])
    got = capsys.readouterr()
    _cli.err = got.err  # type: ignore[attr-defined]
    return code, got.out


def _conf_lock(out: str) -> str:
    """The ``artiflow_lock`` of the ``airflow dags trigger ... --conf '{...}'`` line printed."""
    line = next(x for x in out.splitlines() if x.startswith("airflow dags trigger"))
    return str(json.loads(shlex.split(line)[-1])["artiflow_lock"])


def test_plan_commands_rebuild_on_the_named_version(
    reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    reg.log(draft("raw", "good"))
    reg.log(draft("raw", "zeros"), aliases=["production"])  # raw:v1, the bad one
    _task(reg, "features-dag", "run-1", "featurize", "raw:production", "features")
    _task(reg, "train-dag", "run-2", "train", "features", "model")
    reg.quarantine("raw:v1", "sensor 7 sent zeros")
    reg.log(draft("raw", "fixed"))  # raw:v2

    code, out = _cli(
        reg, capsys, "impact", "raw:v1", "--plan", "--replace", "raw:v1=raw:v2", "--json"
    )
    assert code == 0
    plan = json.loads(out)["plan"]
    assert [(s["pipeline"], s["tasks"]) for s in plan] == [
        ("features-dag", ["featurize"]),
        ("train-dag", ["train"]),
    ]
    assert plan[0]["command"] == (
        "artiflow replay run-1 --orchestrator airflow --pipeline features-dag "
        "--input default/raw=raw:v2"
    )
    assert plan[1]["command"] == (
        "artiflow replay run-2 --orchestrator airflow --pipeline train-dag "
        "--input default/features=default/features:latest"
    )
    code, human = _cli(reg, capsys, "impact", "raw:v1", "--plan", "--replace-with", "raw:v2")
    assert plan[0]["command"] in human and plan[1]["command"] in human

    # step 2 before step 1: features:latest is still the tainted one, refused at once
    code, _out = _cli(reg, capsys, *shlex.split(plan[1]["command"])[1:])
    err = _cli.err  # type: ignore[attr-defined]
    assert code != 0 and "was built from default/raw:v1" in err and "earlier steps" in err

    code, out = _cli(reg, capsys, *shlex.split(plan[0]["command"])[1:])
    assert code == 0 and "default/raw -> default/raw:v2" in out
    lock = _conf_lock(out)
    features = _task(
        reg, "features-dag", "replay-1", "featurize", "raw:production", "features", lock
    )
    assert (reg.get(features).download() / "data.txt").read_text() == "features of [fixed]"

    code, out = _cli(reg, capsys, *shlex.split(plan[1]["command"])[1:])
    lock = _conf_lock(out)
    model = _task(reg, "train-dag", "replay-2", "train", "features", "model", lock)
    assert model == "default/model:v1"
    assert reg.get("model:latest").ref == model  # clean: resolves through latest
    text = (reg.get(model).download() / "data.txt").read_text()
    assert text == "model of [features of [fixed]]"


def test_replay_inputs_are_checked(reg: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    reg.log(draft("raw", "zeros"))
    reg.log(draft("other", "o"))
    _task(reg, "features-dag", "run-1", "featurize", "raw", "features")
    reg.quarantine("raw:v0", "bad")
    base = ["--db-url", reg.db_url, "--store-url", reg.store_url, "replay", "run-1"]
    with pytest.raises(RunLockError, match="never resolved default/other"):
        start_replay(reg, "airflow", "run-1", env={}, inputs={"other": "other:v0"})
    with pytest.raises(QuarantinedError, match="raw:v0"):
        start_replay(
            reg, "airflow", "run-1", env={}, inputs={"raw": "raw:v0"}
        )  # never on a bad one
    capsys.readouterr()
    assert main([*base, "--input", "raw"]) != 0  # malformed: COLLECTION=REF
    assert "COLLECTION=REF" in capsys.readouterr().err
    # without the replacement, the replay reads the quarantined version and is refused
    capsys.readouterr()
    assert main([*base]) == 0
    lock = _conf_lock(capsys.readouterr().out)
    assert lock == "run-1"
    with pytest.raises(QuarantinedError):
        _task(reg, "features-dag", "replay-x", "featurize", "raw", "features", lock)
