"""Prefect for real: ``prefect server start`` on a free port (its own SQLite database), a
process work pool, a ``prefect worker`` and deployments of ``flows/retrain.py`` with pinning
event triggers, for TWO registries on one server. A second test deploys
``tests/prefect/flow_files/real_consistency.py`` to its own pool and worker: two producers with
consumers pinned to the one each waited for, a subflow reading its parent's lock, mapped parts
with their map index, and ``artiflow.prefect.replay`` of the run through the deployment.

A separate process promotes ``bike-dataset:v0`` and then ``v1`` to ``production`` in registry A
(two retraining runs at once) and ``v0`` in registry B. The automation service starts the
deployment runs; the worker runs each in its own process. Asserted: each of A's runs trained and
evaluated on exactly the version of the event that started it (although ``production`` is at
``v1`` when both run), B's one run trained on B's version, no event of one registry started the
other's deployment, and the registry runs name the worker as host.

Registry A is on PostgreSQL when ``ARTIFLOW_TEST_POSTGRES_URL`` is set (required under CI; a
fresh database, shared by the test, the worker's flow-run processes and the promoting process),
else on SQLite; registry B on SQLite. Takes about 30 s on an idle 2-core machine (the server
needs 10-25 s to start). Skipped when the server cannot start,
except under ``CI=true``, where that is a failure. Everything it starts is stopped.
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
from _prefect_server import PREFECT, REPO, _base_env, _stop, _unavailable

from artiflow import Artifact, Registry
from artiflow.identity import registry_identity

WORKER = "artiflow-worker-1"

# ``server`` (one ``prefect server start`` for the session): in this folder's conftest.py


def _postgres_wanted() -> bool:
    if os.environ.get("ARTIFLOW_TEST_POSTGRES_URL"):
        return True
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("ARTIFLOW_TEST_POSTGRES_URL is not set, and CI is: registry A must run on it")
    return False


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database ``h_prefect_<pid>`` on the ``ARTIFLOW_TEST_POSTGRES_URL``
    server (dropped afterwards); skipped without the variable, a failure under CI."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = os.environ.get("ARTIFLOW_TEST_POSTGRES_URL")
    if not url:
        _unavailable("set ARTIFLOW_TEST_POSTGRES_URL to run the PostgreSQL registry variant")
    base = make_url(url or "")
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"h_prefect_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _log_datasets(reg: Registry, tag: str) -> None:
    for i, temp_slope in enumerate((9.5, 3.0)):
        art = Artifact("bike-dataset", type="dataset")
        with art.new_file("data.csv") as f:
            f.write("day,temp,rentals\n")
            for day in range(30):
                temp = day - 5
                f.write(f"{day},{temp},{40 + temp_slope * temp + (day % 3)}\n")
        art.metadata["source"] = f"{tag}-{i}"
        reg.log(art)


_PROMOTE = """
import json, sys
from artiflow import Registry
from artiflow.prefect import promote, flush_events
configs = json.loads(sys.argv[1])
for key, versions in (("a", ("v0", "v1")), ("b", ("v0",))):
    reg = Registry(**configs[key])
    for v in versions:
        promote(f"bike-dataset:{v}", "production", registry=reg, flush=False)
flush_events()
"""


def _job_env(config: dict[str, str]) -> dict[str, str]:
    env = {"ARTIFLOW_HOME": config["home"]}
    if "db_url" in config:
        env["ARTIFLOW_DB_URL"] = config["db_url"]
    return env


def _deploy(url: str, pool: str, configs: dict[str, dict[str, str]]) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.flows import Flow
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    from flows.deployments import retraining_trigger

    ids: dict[str, Any] = {}
    with temporary_settings(updates={PREFECT_API_URL: url}):
        with get_client(sync_client=True) as client:
            client.create_work_pool(
                WorkPoolCreate(
                    name=pool,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        flow: Any = Flow.from_source(source=str(REPO), entrypoint="flows/retrain.py:retrain")
        for key, config in configs.items():
            reg = Registry(**config)  # type: ignore[arg-type]
            ids[key] = flow.deploy(
                name=f"retrain-{pool}-{key}",
                work_pool_name=pool,
                triggers=[retraining_trigger(registry=reg)],
                job_variables={"env": _job_env(config)},
                print_next_steps=False,
                build=False,
                push=False,
            )
    return ids


def _runs_of(url: str, deployment_id: Any) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as c:
        return c.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )


def test_triggered_retraining_on_a_real_server_with_two_registries(
    server: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registry A on PostgreSQL when ``ARTIFLOW_TEST_POSTGRES_URL`` is set (a fresh database,
    shared by the test process, the worker's flow-run processes and the promoting process;
    required under CI), else SQLite; registry B on SQLite."""
    backend = "postgresql" if _postgres_wanted() else "sqlite"
    configs: dict[str, dict[str, str]] = {
        "a": {"home": str(tmp_path / "registry-a")},
        "b": {"home": str(tmp_path / "registry-b")},
    }
    if backend == "postgresql":
        configs["a"]["db_url"] = request.getfixturevalue("fresh_pg_url")
    # each registry's identity derives from its database, as in the jobs (whose environment has
    # no ARTIFLOW_ variable); a name set for the whole session (tests/airflow) must not join them
    monkeypatch.delenv("ARTIFLOW_REGISTRY_NAME", raising=False)
    regs = {k: Registry(**c) for k, c in configs.items()}  # type: ignore[arg-type]
    assert registry_identity(regs["a"]) != registry_identity(regs["b"])
    for key, reg in regs.items():
        _log_datasets(reg, key)

    pool = f"artiflow-{backend}"
    deployments = _deploy(server, pool, configs)
    worker_env = _base_env(tmp_path / "worker-home", server)
    worker_env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    worker_log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [str(PREFECT), "worker", "start", "--pool", pool, "--name", WORKER, "--limit", "3"],
        env=worker_env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=tmp_path,
    )
    try:
        subprocess.run(
            [sys.executable, "-c", _PROMOTE, json.dumps(configs)],
            env=_base_env(tmp_path / "client-home", server),
            check=True,
            timeout=60,
        )
        expected = {"a": 2, "b": 1}
        deadline = time.monotonic() + 150
        while True:
            runs = {k: _runs_of(server, d) for k, d in deployments.items()}
            done = {k: [r for r in v if r.state and r.state.is_final()] for k, v in runs.items()}
            if all(len(done[k]) >= n for k, n in expected.items()):
                break
            if time.monotonic() > deadline:
                log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"runs did not finish: {runs}\nworker log:\n{log}")
            time.sleep(1)
    finally:
        _stop(worker)
        worker_log.close()

    # no cross-trigger: exactly the runs each registry's own events asked for
    assert {k: len(v) for k, v in runs.items()} == expected
    assert all(r.state.is_completed() for v in runs.values() for r in v), runs
    for key, reg in regs.items():
        promoted = sorted(
            r.parameters["artiflow"]["ref"] for r in runs[key]
        )  # what each run's event carried
        assert promoted == [f"default/bike-dataset:v{i}" for i in range(expected[key])]
        assert all(
            r.parameters["artiflow"]["registry"] == registry_identity(reg) for r in runs[key]
        )
        assert reg.get("bike-dataset:production").version == f"v{expected[key] - 1}"
        for flow_run in runs[key]:
            pinned = flow_run.parameters["artiflow"]["ref"]
            tasks = {
                r.task: r for r in reg.runs(orchestrator="prefect", pipeline_run=str(flow_run.id))
            }
            assert set(tasks) >= {"train", "evaluate"}
            for name in ("train", "evaluate"):
                used = [
                    v.ref for v in tasks[name].used_artifacts() if v.collection == "bike-dataset"
                ]
                assert used == [pinned], (key, name, used, pinned)
                assert tasks[name].host == WORKER
                assert tasks[name].info["trigger_pins"] == {"default/bike-dataset": pinned}
    for reg in regs.values():
        reg.close()


def _wait_final(url: str, flow_run_id: Any, log: Path, timeout: float = 120) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + timeout
    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as c:
        while True:
            run = c.read_flow_run(flow_run_id)
            if run.state and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"flow run {flow_run_id} did not finish: {run.state}\n{tail}")
            time.sleep(1)


@pytest.mark.timeout(600)  # a worker, two flow-run processes and a replay; minutes under load
def test_one_flow_run_is_one_pipeline_run_on_a_worker_and_replays(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment run by a ``prefect worker`` (``tests/prefect/flow_files/
    real_consistency.py``): the consumer of two producers gets the version of the one it waited
    for, a subflow reads the version its parent locked although the alias moved in between,
    mapped parts record their map index and the worker as host; ``artiflow.prefect.replay``
    starts the deployment again, the worker runs it, and it reads the original's versions and
    reproduces every output's digest (``reproduced: yes`` in the replay's lock)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments import run_deployment
    from prefect.flows import Flow
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    from artiflow.prefect import replay

    monkeypatch.delenv("ARTIFLOW_REGISTRY_NAME", raising=False)
    config = {"home": str(tmp_path / "registry")}
    reg = Registry(**config)  # type: ignore[arg-type]
    for text in ("zero", "one"):
        art = Artifact("ds", type="dataset")
        with art.new_file("data.txt") as f:
            f.write(text)
        reg.log(art, aliases=["production"] if text == "zero" else [])

    pool, worker_name = "artiflow-consistency", "artiflow-worker-2"
    with temporary_settings(updates={PREFECT_API_URL: server}):
        with get_client(sync_client=True) as client:
            client.create_work_pool(
                WorkPoolCreate(
                    name=pool,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        flow: Any = Flow.from_source(
            source=str(REPO), entrypoint="tests/prefect/flow_files/real_consistency.py:consistency"
        )
        deployment_id = flow.deploy(
            name="real-consistency",
            work_pool_name=pool,
            job_variables={"env": _job_env(config)},
            print_next_steps=False,
            build=False,
            push=False,
        )
    worker_env = _base_env(tmp_path / "worker-home", server)
    worker_env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    log_path = tmp_path / "worker.log"
    worker_log = open(log_path, "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [str(PREFECT), "worker", "start", "--pool", pool, "--name", worker_name, "--limit", "2"],
        env=worker_env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=tmp_path,
    )
    try:
        with temporary_settings(updates={PREFECT_API_URL: server}):
            started: Any = run_deployment(deployment_id, timeout=0, as_subflow=False)
            first = _wait_final(server, started.id, log_path)
            assert first.state.is_completed(), first.state
            assert reg.get("ds:production").version == "v1"  # moved in the middle of the run
            again: Any = replay(first.id)
            replayed = _wait_final(server, again.id, log_path)
            assert replayed.state.is_completed(), replayed.state
    finally:
        _stop(worker)
        worker_log.close()

    def tasks_of(flow_run_id: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for r in reg.runs(orchestrator="prefect", limit=None):
            if r.pipeline_run == str(flow_run_id) or r.info.get("root_flow_run") == str(
                flow_run_id
            ):
                out.setdefault(r.task, []).append(r)
        return out

    def used(run: Any, collection: str) -> list[str]:
        return [v.version for v in run.used_artifacts() if v.collection == collection]

    for flow_run in (first, replayed):
        tasks = tasks_of(flow_run.id)
        # two producers: each consumer read the version of the producer it waited for
        (a,), (b,) = tasks["produce"], tasks["produce-b"]
        (va,), (vb,) = a.logged_artifacts(), b.logged_artifacts()
        assert va.id != vb.id
        assert [v.ref for v in tasks["add-up-a"][0].used_artifacts()] == [va.ref]
        assert [v.ref for v in tasks["add-up-b"][0].used_artifacts()] == [vb.ref]
        # ds:production in the flow, its subflow, and the flow again: the version locked first
        reads = sorted(tasks["read_ds"], key=lambda r: r.started_at)
        assert [used(r, "ds") for r in reads] == [["v0"]] * 3
        (sub,) = [r for r in reads if r.pipeline == "real-consistency-child"]
        assert sub.info["root_flow_run"] == str(flow_run.id)
        assert sub.pipeline_run != str(flow_run.id)
        # the mapped parts: their map index, the worker as host
        assert sorted(r.map_index for r in tasks["part"]) == [0, 1]
        assert all(r.host == worker_name for runs in tasks.values() for r in runs)
    assert reg.run_lock("prefect", str(first.id)).version_of("default/ds:production") == (
        "default/ds:v0"
    )
    lock = reg.run_lock("prefect", str(replayed.id))
    assert lock.replay_of == str(first.id)
    assert replayed.parameters["artiflow"] == {
        "replay_of": str(first.id),
        "flow": "real-consistency",
    }
    # one comparison per producing task and collection: both producers of numbers and both
    # add-ups are compared with their own original output (migration 0007)
    outputs = sorted((o.collection, o.reproduced) for o in lock.replays)
    assert outputs == [
        ("default/numbers", True),
        ("default/numbers", True),
        ("default/parts", True),
        ("default/total", True),
        ("default/total", True),
    ], outputs
    for coll in ("default/numbers", "default/total"):
        tasks = {o.task for o in lock.replays if o.collection == coll}
        assert len(tasks) == 2 and None not in tasks, (coll, tasks)
    reg.close()
