"""Run locks: inside one pipeline run every resolution of a ref returns the version it resolved
to first (SQLite and PostgreSQL), except an upstream pin or a trigger pin; kept locks hold their
versions from deletion (and so from gc); ``artiflow lock`` prints the lock.

The task runtime is driven directly (``TaskExecution`` / ``TaskContext``, orchestrator
``manual``): no Airflow or Prefect is needed to exercise what both adapters rely on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import (
    Artifact,
    ArtifactVersion,
    ArtiflowError,
    InvalidRefError,
    LockKeptError,
    Registry,
    RunLock,
    RunLockError,
)
from artiflow._tasking import (
    PipelineRun,
    TaskContext,
    TaskExecution,
    UpstreamTasks,
    trigger_pins,
)
from artiflow.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """A registry on a fresh SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    registry = Registry(db_url=url, store_url=str(tmp_path / "objects"), home=tmp_path / "home")
    yield registry
    registry.close()


def log(reg: Registry, name: str, text: str, aliases: tuple[str, ...] = ()) -> ArtifactVersion:
    draft = Artifact(name)
    with draft.new_file("data.txt") as f:
        f.write(text)
    return reg.log(draft, aliases=aliases)


def read(
    reg: Registry, run: str, task: str, ref: str, *, pipeline: str = "etl", **ctx: Any
) -> ArtifactVersion:
    """One task of ``run`` that declares ``ref`` as its input; the version it received."""
    context = TaskContext("manual", pipeline, run, task, **ctx)
    with TaskExecution(context, inputs={"x": ref}, outputs={}, registry=reg) as ex:
        ex.open()
        return ex.inputs["x"]


def produce(reg: Registry, run: str, task: str, name: str, text: str) -> ArtifactVersion:
    context = TaskContext("manual", "etl", run, task)
    with TaskExecution(context, inputs={}, outputs={"out": name}, registry=reg) as ex:
        ex.open()
        with ex.drafts["out"].new_file("data.txt") as f:
            f.write(text)
        return ex.commit()["out"]  # type: ignore[no-any-return]


def test_two_tasks_of_one_run_read_the_same_version_while_the_alias_moves(reg: Registry) -> None:
    log(reg, "bike-dataset", "day 0", aliases=("production",))
    assert read(reg, "r1", "train", "bike-dataset:production").version == "v0"
    log(reg, "bike-dataset", "day 1", aliases=("production",))  # the alias moves in between
    assert reg.get("bike-dataset:production").version == "v1"

    assert read(reg, "r1", "evaluate", "bike-dataset:production").version == "v0"
    assert read(reg, "r1", "report", "default/bike-dataset:production").version == "v0"
    assert read(reg, "r2", "train", "bike-dataset:production").version == "v1"  # a new run

    lock = reg.run_lock("manual", "r1")
    assert isinstance(lock, RunLock)
    assert (lock.orchestrator, lock.pipeline, lock.pipeline_run, lock.kept) == (
        "manual",
        "etl",
        "r1",
        False,
    )
    assert [(e.ref, e.version_ref, e.task) for e in lock.entries] == [
        ("default/bike-dataset:production", "default/bike-dataset:v0", "train")
    ]
    assert lock.version_of("default/bike-dataset:production") == "default/bike-dataset:v0"
    assert reg.run_lock("manual", "r2").entries[0].version_ref == "default/bike-dataset:v1"


def test_a_new_process_reads_the_lock_not_its_own_cache(reg: Registry) -> None:
    """The lock lives in the registry: another worker (a fresh Registry) gets the same pick."""
    log(reg, "ds", "a", aliases=("production",))
    assert read(reg, "r1", "a", "ds:production").version == "v0"
    log(reg, "ds", "b", aliases=("production",))
    other = Registry(db_url=reg.db_url, store_url=reg.store_url, home=reg.settings.home)
    try:
        assert read(other, "r1", "b", "ds:production").version == "v0"
    finally:
        other.close()


RACE = r"""
import sys, time
from artiflow import Registry
from artiflow._ops.locks import lock_version
from artiflow._tasking import TaskContext, TaskExecution
db, store, home, index, start = sys.argv[1:6]
reg = Registry(db_url=db, store_url=store, home=home)
mine = reg.get(f"ds:v{index}")  # connected, and this process's candidate
while time.time() < float(start):
    time.sleep(0.001)
# the catalog's first-writer-wins: every process offers another version for one ref
held = lock_version(reg, "manual", "etl", "race", "default/ds:direct", mine, f"task-{index}")
# the task path: the alias moves in every process right before its first resolution
reg.alias(f"ds:v{index}", "production")
ctx = TaskContext("manual", "etl", "race", f"task-{index}")
with TaskExecution(ctx, inputs={"x": "ds:production"}, outputs={}, registry=reg) as ex:
    ex.open()
    print(held.ref, ex.inputs["x"].ref)
"""


def test_concurrent_first_resolution_from_several_processes_locks_one_version(
    reg: Registry, tmp_path: Path
) -> None:
    for i in range(4):
        log(reg, "ds", f"content {i}")
    start = time.time() + 4
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACE,
                reg.db_url,
                reg.store_url,
                str(tmp_path / "h"),
                str(i),
                str(start),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    direct = {out.split()[0] for out, _ in outs}
    got = {out.split()[1] for out, _ in outs}
    assert len(direct) == 1, direct  # one winner, whatever each process offered
    assert len(got) == 1, got  # every task of the run received the same version
    lock = reg.run_lock("manual", "race")
    assert {e.ref: e.version_ref for e in lock.entries} == {
        "default/ds:direct": direct.pop(),
        "default/ds:production": got.pop(),
    }


def test_a_subflow_inherits_its_parent_lock(reg: Registry) -> None:
    log(reg, "ds", "a", aliases=("production",))
    root = PipelineRun("manual", "parent-flow", "root-1")
    assert read(reg, "root-1", "load", "ds:production", pipeline="parent-flow").version == "v0"
    log(reg, "ds", "b", aliases=("production",))
    # the subflow has its own flow run id but shares the root flow run's lock
    got = read(reg, "sub-1", "train", "ds:production", pipeline="child-flow", lock_parent=root)
    assert got.version == "v0"
    # the subflow was the first to read another ref: it lands in the root's lock too
    log(reg, "other", "o")
    read(reg, "sub-1", "train", "other", pipeline="child-flow", lock_parent=root)
    refs = {e.ref: e.task for e in reg.run_lock("manual", "root-1").entries}
    assert refs == {"default/ds:production": "load", "default/other:latest": "train"}
    # without the parent, a flow run of its own resolves on its own
    assert read(reg, "sub-2", "train", "ds:production", pipeline="child-flow").version == "v1"


def test_an_upstream_pin_beats_the_lock(reg: Registry) -> None:
    log(reg, "ds", "a")
    assert read(reg, "r1", "peek", "ds").version == "v0"  # "ds:latest" locked to v0
    assert produce(reg, "r1", "make", "ds", "made in r1").version == "v1"
    downstream = UpstreamTasks(lambda project, name: {"make"} if name == "ds" else set())
    assert read(reg, "r1", "use", "ds", upstream=downstream).version == "v1"
    assert read(reg, "r1", "unrelated", "ds").version == "v0"  # no edge to make: the lock
    assert [e.task for e in reg.run_lock("manual", "r1").entries] == ["peek"]


def test_a_trigger_pin_wins_over_aliases_and_latest(reg: Registry) -> None:
    for i in range(3):
        log(reg, "bike-training-set", f"set {i}", aliases=("production",))
    pins = {"default/bike-training-set": "default/bike-training-set:v1"}
    assert read(reg, "t1", "train", "bike-training-set", trigger_pins=pins).version == "v1"
    got = read(reg, "t1", "eval", "bike-training-set:production", trigger_pins=pins)
    assert got.version == "v1"
    # an explicit version is what the task asked for
    assert read(reg, "t1", "cmp", "bike-training-set:v0", trigger_pins=pins).version == "v0"
    # the lock records the pinned versions (a replay of t1 needs them)
    entries = {e.ref: e.version_ref for e in reg.run_lock("manual", "t1").entries}
    assert entries["default/bike-training-set:latest"] == "default/bike-training-set:v1"
    assert entries["default/bike-training-set:production"] == "default/bike-training-set:v1"
    # a concurrent run triggered by v2 gets v2
    pins2 = {"default/bike-training-set": "default/bike-training-set:v2"}
    assert read(reg, "t2", "train", "bike-training-set", trigger_pins=pins2).version == "v2"


def test_a_kept_lock_blocks_delete_until_released(reg: Registry) -> None:
    v0 = log(reg, "ds", "kept content")
    log(reg, "ds", "newer")
    read(reg, "r1", "train", "ds:v0")
    lock = reg.keep_lock("manual", "r1", reason="model card 7")
    assert lock.kept and lock.kept_reason == "model card 7" and lock.kept_at is not None

    with pytest.raises(LockKeptError, match="kept run lock of manual run 'r1'") as err:
        reg.get("ds:v0").delete()
    assert isinstance(err.value, ArtiflowError)
    assert "--release" in str(err.value)
    assert reg.get("ds:v0").state == "COMMITTED"
    # gc keeps the blobs of a committed version: the kept lock keeps it committed
    reg.gc(grace_seconds=0)
    assert (
        reg.get("ds:v0").download(reg.settings.home / "out").joinpath("data.txt").read_text()
        == "kept content"
    )

    assert not reg.release_lock("manual", "r1").kept
    reg.get("ds:v0").delete()
    first = reg.versions("ds", include_deleted=True)[0]
    assert (first.id, first.state) == (v0.id, "DELETED")


def test_keeping_needs_a_reason_and_an_unknown_run_has_no_lock(reg: Registry) -> None:
    log(reg, "ds", "a")
    read(reg, "r1", "train", "ds")
    with pytest.raises(RunLockError, match="needs a reason"):
        reg.keep_lock("manual", "r1", reason=" ")
    with pytest.raises(RunLockError, match="no run lock for airflow pipeline run 'nope'") as err:
        reg.run_lock("airflow", "nope")
    assert isinstance(err.value, LookupError)


def test_the_same_run_id_in_two_pipelines_has_two_locks(reg: Registry) -> None:
    log(reg, "ds", "a")
    read(reg, "scheduled__1", "t", "ds", pipeline="dag_a")
    log(reg, "ds", "b")
    read(reg, "scheduled__1", "t", "ds", pipeline="dag_b")
    with pytest.raises(RunLockError, match="several pipelines"):
        reg.run_lock("manual", "scheduled__1")
    a = reg.run_lock("manual", "scheduled__1", pipeline="dag_a")
    b = reg.run_lock("manual", "scheduled__1", pipeline="dag_b")
    assert (a.entries[0].version_ref, b.entries[0].version_ref) == (
        "default/ds:v0",
        "default/ds:v1",
    )


def test_cli_lock_json_keep_and_release(reg: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    log(reg, "ds", "a", aliases=("production",))
    read(reg, "r1", "train", "ds:production")
    db = ["--db-url", reg.db_url, "--store-url", reg.store_url]

    assert main([*db, "lock", "r1", "--orchestrator", "manual", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pipeline_run"] == "r1" and out["kept"] is False
    assert [(e["ref"], e["version_ref"], e["task"]) for e in out["entries"]] == [
        ("default/ds:production", "default/ds:v0", "train")
    ]

    args = [*db, "lock", "r1", "--orchestrator", "manual", "--keep", "--reason", "audit", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kept"] is True and out["kept_reason"] == "audit"
    assert main([*db, "delete", "ds:v0"]) == 4  # a conflict: held by the kept lock
    assert "kept run lock" in capsys.readouterr().err

    assert main([*db, "lock", "r1", "--orchestrator", "manual"]) == 0
    text = capsys.readouterr().out
    assert "default/ds:production -> default/ds:v0" in text and "kept by" in text

    assert main([*db, "lock", "r1", "--orchestrator", "manual", "--release", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kept"] is False

    assert main([*db, "lock", "nope", "--orchestrator", "manual"]) == 2
    assert "no run lock" in capsys.readouterr().err


def test_merged_trigger_events_pin_the_newest_version(reg: Registry) -> None:
    for i in range(3):
        log(reg, "bike-training-set", f"set {i}")
    log(reg, "other", "o")
    # Airflow merged two asset events for one collection into this run
    pins = trigger_pins(["bike-training-set:v0", "default/bike-training-set:v1", "other:v0"])
    assert pins == {
        "default/bike-training-set": "default/bike-training-set:v1",
        "default/other": "default/other:v0",
    }
    assert read(reg, "t1", "train", "bike-training-set", trigger_pins=pins).version == "v1"
    with pytest.raises(InvalidRefError, match="must name a version"):
        trigger_pins(["bike-training-set:production"])
