"""Fixtures for the web page tests: a seeded registry, an API client, a live server, Chromium.

The seeded registry is a small bike-sharing pipeline with real runs, so lineage is real:

    raw-bikes:v0 --(prepare)--> bikes-clean:v0 --(train)--> churn-model:v0, v1 --(evaluate)--> eval-report:v0

plus a second project, a registry collection linking the model, a reference entry, alias moves (``production`` v0 -> v1) and, for the
speed checks, ``many-files:v0`` with 10,000 files (built by ``upsert``/``finish`` in shards).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BIG_FILES = 10_000


def seed_registry(home: Path, *, big: bool = True) -> Registry:
    """Build the demo registry under ``home`` and return it."""
    reg = Registry(home=home)
    src = home / "src"
    src.mkdir(parents=True, exist_ok=True)
    lookup = src / "stations.csv"
    lookup.write_text("station,city\n1,Paris\n2,Lyon\n")

    etl = {
        "orchestrator": "airflow",
        "pipeline": "bikes_etl",
        "pipeline_run": "scheduled__2026-11-22",
    }
    with reg.run("ingest", task="ingest", **etl) as run:
        raw = Artifact(
            "raw-bikes",
            type="dataset",
            description="Raw bike rentals from the city open data portal",
            metadata={"source": "https://example.invalid/bikes.csv", "rows": 4},
        )
        with raw.new_file("rentals.csv") as f:
            f.write("id,station,minutes\n1,1,12\n2,1,30\n3,2,7\n4,2,45\n")
        run.log(raw, tags=["nightly"])

    with reg.run("prepare", task="prepare", **etl) as run:
        run.use("raw-bikes:latest")
        clean = Artifact(
            "bikes-clean",
            type="dataset",
            description="Cleaned rentals, split for training",
            metadata={"rows": 4, "split": {"train": 0.75, "test": 0.25}},
        )
        with clean.new_file("train/part-0.csv") as f:
            f.write("station,minutes\n1,12\n1,30\n2,7\n")
        with clean.new_file("test/part-0.csv") as f:
            f.write("station,minutes\n2,45\n")
        clean.add_reference(lookup.as_uri(), name="lookup/stations.csv")
        run.log(clean, aliases=["production"])

    train = {"orchestrator": "prefect", "pipeline": "train-churn", "pipeline_run": "flow-run-1"}
    with reg.run("train", task="fit", **train) as run:
        run.use("bikes-clean:production")
        model = Artifact(
            "churn-model", type="model", metadata={"auc": 0.87, "params": {"depth": 4}}
        )
        with model.new_file("model.json") as f:
            f.write('{"weights": [0.1, 0.2]}')
        run.log(model, aliases=["staging"])
    reg.alias("churn-model:v0", "production")
    with reg.run("train", task="fit", **{**train, "pipeline_run": "flow-run-2"}) as run:
        run.use("bikes-clean:production")
        model = Artifact(
            "churn-model", type="model", metadata={"auc": 0.91, "params": {"depth": 6}}
        )
        with model.new_file("model.json") as f:
            f.write('{"weights": [0.3, 0.1]}')
        run.log(model, aliases=["staging"])
    reg.alias("churn-model:v1", "production")
    reg.link("churn-model:v1", "model-registry/churn", aliases=["production"])

    with reg.run("evaluate", task="evaluate", **train) as run:
        run.use("churn-model:production")
        report = Artifact("eval-report", type="report")
        with report.new_file("report.md") as f:
            f.write("# AUC 0.91\n")
        run.log(report)

    other = Registry(home=home, default_project="team-b")
    emb = Artifact("embeddings", type="features", description="Station embeddings")
    with emb.new_file("emb.npy") as f:
        f.write("0 1 2")
    other.log(emb)
    other.close()

    if big:
        # Ten writers of 1,000 files each build one collaborative version of 10,000 files.
        folder = src / "many"
        for part in range(BIG_FILES // 1000):
            shard = folder / f"part-{part:02d}"
            shard.mkdir(parents=True)
            for i in range(part * 1000, (part + 1) * 1000):
                (shard / f"row-{i:05d}.txt").write_text(f"row {i}\n")
            draft = Artifact("many-files", type="dataset")
            draft.add_dir(shard, name=shard.name)
            reg.upsert(draft, distributed_id="many-files-build")
        done = Artifact("many-files", type="dataset", description="10,000 small files")
        reg.finish(done, distributed_id="many-files-build")
    return reg


@pytest.fixture(scope="session")
def seed() -> Any:
    """``seed_registry`` itself, for tests that need a registry of their own."""
    return seed_registry


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("artiflow-ui-home")
    seed_registry(home).close()
    return home


@pytest.fixture(scope="session")
def registry(seeded_home: Path) -> Iterator[Registry]:
    reg = Registry(home=seeded_home)
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def client(registry: Registry) -> Iterator[Any]:
    with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from artiflow.ui import create_app

    with TestClient(create_app(registry)) as c:
        yield c


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def artiflow_ui(home: Path) -> Iterator[str]:
    """Run the ``artiflow ui`` command on a free loopback port; yield its base URL."""
    import httpx

    exe = shutil.which("artiflow", path=str(Path(sys.executable).parent))
    cmd = (
        [exe]
        if exe
        else [sys.executable, "-c", "from artiflow.cli import main; raise SystemExit(main())"]
    )
    port = free_port()
    env = {**os.environ, "ARTIFLOW_HOME": str(home)}
    for var in ("ARTIFLOW_DB_URL", "ARTIFLOW_STORE_URL", "ARTIFLOW_UI_TOKEN"):
        env.pop(var, None)
    proc = subprocess.Popen(
        [*cmd, "ui", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"artiflow ui exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(f"{base}api/config", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("artiflow ui did not answer within 30 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture(scope="session")
def ui_command() -> Any:
    """``with ui_command(home) as base_url:`` runs ``artiflow ui`` over the registry at home."""
    return artiflow_ui


@pytest.fixture(scope="session")
def live_server() -> Any:
    """``with live_server(app) as base_url:`` runs ``app`` on a free loopback port."""
    return serve_in_thread


def chromium_or_skip() -> None:
    """Skip (or, when ``CI`` is set, fail) with a clear reason if Chromium is not usable."""
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is missing (pip install playwright)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must run the browser tests")
        pytest.skip(problem)


@pytest.fixture(
    scope="module"
)  # Playwright's sync API holds an event loop: release it after the module
def browser() -> Iterator[Any]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
