"""Replays: a run with ``replay_of`` resolves every input from the earlier run's lock, even after
aliases moved and newer versions appeared, and records per output whether it reproduced the
original digest; ``start_replay`` posts the DAG run to the Airflow REST API (a real local HTTP
server stands in for it) or prints the exact command.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, ArtifactVersion, ArtiflowError, Registry, ReplayOutput
from artiflow._ops.replay import AIRFLOW_CONF_KEY, start_replay
from artiflow._tasking import PipelineRun, TaskContext, TaskExecution
from artiflow.cli import main


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


@pytest.fixture(autouse=True)
def _no_airflow_api(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ARTIFLOW_AIRFLOW_API_URL", "AIRFLOW__API__BASE_URL", "ARTIFLOW_AIRFLOW_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def log(reg: Registry, name: str, text: str, aliases: tuple[str, ...] = ()) -> ArtifactVersion:
    draft = Artifact(name)
    with draft.new_file("data.txt") as f:
        f.write(text)
    return reg.log(draft, aliases=aliases)


def train(
    reg: Registry, run: str, *, replay_of: PipelineRun | None = None, salt: str = ""
) -> dict[str, Any]:
    """A two-task pipeline run: ``prepare`` reads the data and the config, ``fit`` the data
    again and writes a model derived from what it read (plus ``salt``)."""
    seen: dict[str, Any] = {}
    ctx = TaskContext("airflow", "retrain", run, "prepare", replay_of=replay_of)
    inputs = {"data": "bike-dataset:production", "cfg": "config"}
    with TaskExecution(ctx, inputs=inputs, outputs={}, registry=reg) as ex:
        ex.open()
        seen["prepare"] = {p: v.ref for p, v in ex.inputs.items()}
    ctx = TaskContext("airflow", "retrain", run, "fit", replay_of=replay_of)
    outputs = {"model": "bike-model"}
    with TaskExecution(
        ctx, inputs={"data": "bike-dataset:production"}, outputs=outputs, registry=reg
    ) as ex:
        ex.open()
        seen["fit"] = ex.inputs["data"].ref
        data = (ex.tmpdir() / "data" / "data.txt").read_text()
        with ex.drafts["model"].new_file("model.txt") as f:
            f.write(f"model of {data}{salt}")
        seen["model"] = ex.commit()["model"]
    return seen


def test_a_replay_resolves_from_the_earlier_lock(reg: Registry) -> None:
    log(reg, "bike-dataset", "day 0", aliases=("production",))
    log(reg, "config", "c0")
    first = train(reg, "manual__1")
    assert first["prepare"] == {"data": "default/bike-dataset:v0", "cfg": "default/config:v0"}

    # later: the alias moved, newer versions appeared
    log(reg, "bike-dataset", "day 1", aliases=("production",))
    log(reg, "bike-dataset", "day 2")
    log(reg, "config", "c1")
    assert train(reg, "manual__2")["fit"] == "default/bike-dataset:v1"  # a normal run moves on

    original = PipelineRun("airflow", "retrain", "manual__1")
    again = train(reg, "manual__3", replay_of=original)
    assert again["prepare"] == first["prepare"]
    assert again["fit"] == "default/bike-dataset:v0"
    assert again["model"].digest == first["model"].digest

    lock = reg.run_lock("airflow", "manual__3")
    assert lock.replay_of == "manual__1"
    # the replay's own lock says what it used (a replay of the replay works the same)
    assert lock.version_of("default/bike-dataset:production") == "default/bike-dataset:v0"
    assert [(r.collection, r.reproduced) for r in lock.replays] == [("default/bike-model", True)]
    out = lock.replays[0]
    assert isinstance(out, ReplayOutput)
    assert (out.replay_run, out.original_run, out.task) == ("manual__3", "manual__1", "fit")
    assert out.original_version_ref == first["model"].ref
    assert out.digest == out.original_digest == first["model"].digest
    # the original's lock lists the replay too
    assert [r.replay_run for r in reg.run_lock("airflow", "manual__1").replays] == ["manual__3"]


def test_a_replay_that_differs_is_recorded_as_not_reproduced(
    reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    log(reg, "bike-dataset", "day 0", aliases=("production",))
    log(reg, "config", "c0")
    first = train(reg, "manual__1")
    log(reg, "bike-dataset", "day 1", aliases=("production",))
    again = train(
        reg,
        "manual__2",
        replay_of=PipelineRun("airflow", "retrain", "manual__1"),
        salt=" (non-deterministic)",
    )
    assert again["fit"] == "default/bike-dataset:v0"
    (out,) = reg.run_lock("airflow", "manual__2").replays
    assert out.reproduced is False
    assert (out.original_digest, out.digest) == (first["model"].digest, again["model"].digest)

    db = ["--db-url", reg.db_url, "--store-url", reg.store_url]
    assert main([*db, "lock", "manual__2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["replay_of"] == "manual__1"
    assert [(r["collection"], r["reproduced"]) for r in data["replays"]] == [
        ("default/bike-model", False)
    ]
    assert main([*db, "lock", "manual__2"]) == 0
    assert "reproduced: no" in capsys.readouterr().out


def test_start_replay_prints_the_command_without_an_api(
    reg: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    log(reg, "bike-dataset", "day 0", aliases=("production",))
    log(reg, "config", "c0")
    train(reg, "scheduled__2026-12-01T00:00:00+00:00")
    started = start_replay(reg, "airflow", "scheduled__2026-12-01T00:00:00+00:00")
    assert not started.started and started.pipeline == "retrain"
    assert started.command == (
        "airflow dags trigger retrain --conf "
        """'{"artiflow_lock": "scheduled__2026-12-01T00:00:00+00:00"}'"""
    )
    db = ["--db-url", reg.db_url, "--store-url", reg.store_url]
    assert main([*db, "replay", "scheduled__2026-12-01T00:00:00+00:00"]) == 0
    assert capsys.readouterr().out.strip() == started.command
    assert main([*db, "replay", "scheduled__2026-12-01T00:00:00+00:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["started"] is False

    # Prefect: the call the prefect integration provides
    ctx = TaskContext("prefect", "retrain-flow", "0b5e-flow-run", "fit")
    with TaskExecution(ctx, inputs={"d": "bike-dataset"}, outputs={}, registry=reg) as ex:
        ex.open()
    got = start_replay(reg, "prefect", "0b5e-flow-run")
    assert got.command == (
        """python -c 'import artiflow.prefect; artiflow.prefect.replay("0b5e-flow-run")'"""
    )


class _FakeAirflow(BaseHTTPRequestHandler):
    """Records every POST; answers like the Airflow 3 REST API."""

    posts: list[dict[str, Any]]
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.posts.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if self.path == "/auth/token":
            answer: dict[str, Any] = {"access_token": "jwt-from-login"}
        else:
            answer = {"dag_run_id": "manual__replay", "state": "queued", "conf": body["conf"]}
        data = json.dumps(answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def airflow_api() -> Iterator[tuple[str, list[dict[str, Any]], type[_FakeAirflow]]]:
    handler = type("Handler", (_FakeAirflow,), {"posts": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.posts, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_start_replay_posts_the_dag_run_to_the_airflow_api(
    reg: Registry,
    airflow_api: tuple[str, list[dict[str, Any]], type[_FakeAirflow]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, posts, handler = airflow_api
    log(reg, "bike-dataset", "day 0", aliases=("production",))
    log(reg, "config", "c0")
    train(reg, "manual__1")

    monkeypatch.setenv("ARTIFLOW_AIRFLOW_API_URL", url + "/")
    monkeypatch.setenv("ARTIFLOW_AIRFLOW_TOKEN", "tok")
    started = start_replay(reg, "airflow", "manual__1")
    assert started.started and started.new_run == "manual__replay"
    assert posts == [
        {
            "path": "/api/v2/dags/retrain/dagRuns",
            "body": {"logical_date": None, "conf": {AIRFLOW_CONF_KEY: "manual__1"}},
            "auth": "Bearer tok",
        }
    ]

    # Airflow's own base-URL setting and a username/password exchanged for a token
    posts.clear()
    monkeypatch.delenv("ARTIFLOW_AIRFLOW_API_URL")
    monkeypatch.delenv("ARTIFLOW_AIRFLOW_TOKEN")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", url)
    monkeypatch.setenv("ARTIFLOW_AIRFLOW_USERNAME", "admin")
    monkeypatch.setenv("ARTIFLOW_AIRFLOW_PASSWORD", "secret")
    db = ["--db-url", reg.db_url, "--store-url", reg.store_url]
    assert main([*db, "replay", "manual__1", "--orchestrator", "airflow", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["started"] is True and out["new_run"] == "manual__replay"
    assert [p["path"] for p in posts] == ["/auth/token", "/api/v2/dags/retrain/dagRuns"]
    assert posts[0]["body"] == {"username": "admin", "password": "secret"}
    assert posts[1]["auth"] == "Bearer jwt-from-login"
    assert posts[1]["body"]["conf"] == {"artiflow_lock": "manual__1"}

    # a refusal is a clear error naming the status
    handler.status = 403
    with pytest.raises(ArtiflowError, match="HTTP 403"):
        start_replay(reg, "airflow", "manual__1")


def two_writers(
    reg: Registry, run: str, *, replay_of: PipelineRun | None = None, salt: str = ""
) -> None:
    """A pipeline run whose two tasks ``fit_a`` and ``fit_b`` both write ``bike-model`` (one
    from the data, one from the config; ``salt`` changes only ``fit_b``'s)."""
    for task, ref, extra in (("fit_a", "bike-dataset:production", ""), ("fit_b", "config", salt)):
        ctx = TaskContext("airflow", "retrain", run, task, replay_of=replay_of)
        with TaskExecution(
            ctx, inputs={"src": ref}, outputs={"model": "bike-model"}, registry=reg
        ) as ex:
            ex.open()
            text = (ex.tmpdir() / "src" / "data.txt").read_text()
            with ex.drafts["model"].new_file("model.txt") as f:
                f.write(f"{task} of {text}{extra}")
            ex.commit()


def test_two_tasks_writing_one_collection_are_compared_each(reg: Registry) -> None:
    log(reg, "bike-dataset", "day 0", aliases=("production",))
    log(reg, "config", "c0")
    two_writers(reg, "manual__1")
    log(reg, "bike-dataset", "day 1", aliases=("production",))
    original = PipelineRun("airflow", "retrain", "manual__1")
    two_writers(reg, "manual__2", replay_of=original)
    outs = sorted(reg.run_lock("airflow", "manual__2").replays, key=lambda r: str(r.task))
    # one comparison per producing task, each against that task's original output
    assert [(r.task, r.collection, r.reproduced) for r in outs] == [
        ("fit_a", "default/bike-model", True),
        ("fit_b", "default/bike-model", True),
    ]
    assert [r.original_version_ref for r in outs] == [
        "default/bike-model:v0",
        "default/bike-model:v1",
    ]
    # a replay where only fit_b differs: fit_a still reproduced, fit_b not
    two_writers(reg, "manual__3", replay_of=original, salt=" (changed)")
    outs = sorted(reg.run_lock("airflow", "manual__3").replays, key=lambda r: str(r.task))
    assert [(r.task, r.reproduced) for r in outs] == [("fit_a", True), ("fit_b", False)]
