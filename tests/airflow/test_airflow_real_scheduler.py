"""Airflow for real: api-server, scheduler, dag-processor, triggerer and two Celery workers.

Services: PostgreSQL (``ARTIFLOW_TEST_POSTGRES_URL``; two fresh databases are created, one for
Airflow's metadata and one for the registry, and dropped afterwards), Redis
(``ARTIFLOW_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/5``; the Celery broker, with a
queue of this test's own) and a moto S3 server started here (the registry's blobs). Without one
of them the test skips, except under ``CI``: then it fails.

It triggers the dataset DAG twice at once and checks that every asset-triggered retraining run
trained on exactly the version that triggered it (the newest of its events when Airflow merged
both into one run), then clears the mapped task of a finished dataset run and checks that its
new tries built a new collaborative version which the downstream task consumed. A second test
promotes a model with the artiflow CLI (a subprocess, no Airflow involved) and checks that the
``AssetWatcher`` (``ArtifactEventTrigger`` in the triggerer) started the watching DAG on exactly
the promoted version, once per promotion. A third replays a retraining run with ``artiflow
replay`` (the REST API) after ``latest`` moved, and checks that it read the original's versions,
reproduced the model's digest and recorded ``reproduced: yes``.
Database names start with ``$ARTIFLOW_TEST_DB_PREFIX`` (default ``artiflow_test_``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

# each test starts (or shares) a whole cluster: scheduler, dag-processor, triggerer, api-server
# and two Celery workers; under load start-up alone can take minutes
pytestmark = pytest.mark.timeout(900)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DAG_FILES = HERE / "dag_files" / "real_engine"
AIRFLOW = [sys.executable, "-m", "airflow"]
STARTUP_TIMEOUT = 240
RUN_TIMEOUT = 240
STOP_TIMEOUT = 10  # seconds for the whole cluster to stop on SIGTERM at the end
POLL = 1.0  # seconds between two looks at the REST API while waiting for a state


def _need(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}, and CI is: the real-engine Airflow test must run in CI")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_ok(url: str) -> bool:
    from urllib.parse import urlparse

    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=3) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class _Api:
    """The Airflow REST API (v2) with a JWT from the simple auth manager."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def _call(self, method: str, path: str, body: object = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def login(self) -> None:
        out = self._call("POST", "/auth/token", {"username": "admin", "password": "admin"})
        self.token = out["access_token"]  # type: ignore[index]

    def get(self, path: str) -> object:
        return self._call("GET", path)

    def post(self, path: str, body: object) -> object:
        return self._call("POST", path, body)


@pytest.fixture(scope="module")
def services():
    """PostgreSQL databases, Redis and a moto S3 server (skip or, under CI, fail without)."""
    base = os.environ.get("ARTIFLOW_TEST_POSTGRES_URL")
    if not base:
        _need("ARTIFLOW_TEST_POSTGRES_URL is not set")
    redis_url = os.environ.get("ARTIFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    if not _redis_ok(redis_url):
        _need(f"no Redis answers at {redis_url} (ARTIFLOW_TEST_REDIS_URL)")
    import importlib.util

    for module in ("celery", "airflow.providers.celery", "moto.server", "flask", "s3fs"):
        if importlib.util.find_spec(module) is None:
            _need(
                f"{module} is not installed (apache-airflow-providers-celery, moto[server], s3fs)"
            )
    import moto.server
    import s3fs
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base).set(drivername="postgresql+psycopg")
    prefix = os.environ.get("ARTIFLOW_TEST_DB_PREFIX", "artiflow_test_")
    tag = uuid.uuid4().hex[:8]
    names = {"meta": f"{prefix}meta_{tag}", "registry": f"{prefix}reg_{tag}"}
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server = moto.server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port())
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    aws = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    old = {k: os.environ.get(k) for k in aws}
    os.environ.update(aws)
    bucket = f"af-real-{tag}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    try:
        yield {
            "meta": url.set(database=names["meta"]).render_as_string(hide_password=False),
            "registry": url.set(database=names["registry"]).render_as_string(hide_password=False),
            "redis": redis_url,
            "store": f"s3://{bucket}/store",
            "aws": aws,
        }
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def airflow_cluster(services):
    """Airflow with the CeleryExecutor and two workers, on the services above."""
    root = Path(tempfile.mkdtemp(prefix="artiflow-real-airflow-"))
    home, dags, logs = root / "home", root / "dags", root / "logs"
    for d in (home, dags, logs):
        d.mkdir()
    for src in DAG_FILES.glob("*.py"):
        shutil.copy(src, dags / src.name)
    (root / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    port = _free_port()
    queue = f"artiflow-{uuid.uuid4().hex[:8]}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "ARTIFLOW_", "_AIRFLOW")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(services["aws"])
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(root / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": "artiflow-real-" + uuid.uuid4().hex * 2,
            "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": services["meta"],
            "AIRFLOW__CELERY__BROKER_URL": services["redis"],
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + services["meta"],
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "ARTIFLOW_DB_URL": services["registry"],
            "ARTIFLOW_STORE_URL": services["store"],
            "ARTIFLOW_REGISTRY_NAME": "real-engine",
        }
    )
    migrate = subprocess.run(
        [*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    commands = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port)],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer"],
        "worker-1": ["celery", "worker", "-H", "w1@%h", "-q", queue, "-c", "2"],
        "worker-2": ["celery", "worker", "-H", "w2@%h", "-q", queue, "-c", "2"],
    }
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, args in commands.items():
            out = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            procs[name] = subprocess.Popen(
                [*AIRFLOW, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        api = _Api(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            dead = [n for n, p in procs.items() if p.poll() is not None]
            assert not dead, f"{dead} exited: {_tail(logs, dead)}"
            try:
                api.login()
                errors = api.get("/api/v2/importErrors")["import_errors"]  # type: ignore[index]
                assert not errors, f"DAG import errors: {errors}"
                ids = {d["dag_id"] for d in api.get("/api/v2/dags")["dags"]}  # type: ignore[index]
                if {"real_nightly", "real_retrain", "real_watcher"} <= ids:
                    break
            except (urllib.error.URLError, ConnectionError, OSError, KeyError):
                pass
            assert time.monotonic() < deadline, f"Airflow did not start: {_tail(logs, procs)}"
            time.sleep(POLL)
        yield {"api": api, "env": env, "logs": logs, "procs": procs}
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        # one deadline for all of them (they stop at the same time): what has not exited
        # gracefully by then is killed (every run is over; the databases are dropped next)
        stop_by = time.monotonic() + STOP_TIMEOUT
        for p in procs.values():
            try:
                p.wait(timeout=max(0.1, stop_by - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
        _forget_queue(services["redis"], queue)


def _forget_queue(redis_url: str, queue: str) -> None:
    """Remove the Celery queue's keys from the broker (other users share the Redis db)."""
    try:
        import redis

        client = redis.Redis.from_url(redis_url)
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()
    except Exception:  # best effort: the keys are harmless
        pass


def _tail(logs: Path, names) -> str:
    return "\n".join(
        f"--- {n}:\n" + (logs / f"{n}.log").read_text(errors="replace")[-2500:] for n in names
    )


def _wait(what: str, check, cluster, timeout: float = RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}: " + _tail(
            cluster["logs"], ["scheduler", "worker-1", "worker-2"]
        )
        time.sleep(POLL)


def _runs(api: _Api, dag_id: str) -> list[dict]:
    return api.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]  # type: ignore[index]


def _finished(api: _Api, dag_id: str, run_ids) -> bool:
    states = {r["dag_run_id"]: r["state"] for r in _runs(api, dag_id)}
    failed = [r for r in run_ids if states.get(r) == "failed"]
    assert not failed, f"{dag_id} runs failed: {failed}"
    return all(states.get(r) == "success" for r in run_ids)


@pytest.fixture(scope="module")
def registry(services):
    from artiflow import Registry

    reg = Registry(db_url=services["registry"], store_url=services["store"])
    yield reg
    reg.close()


def _registry_runs(registry, dag_id, run_id, task):
    return [
        r
        for r in registry.runs(
            orchestrator="airflow", pipeline=dag_id, pipeline_run=run_id, limit=None
        )
        if r.task == task
    ]


def test_real_scheduler_trigger_pinning_and_clear_of_a_mapped_task(airflow_cluster, registry):
    api: _Api = airflow_cluster["api"]
    # both runs at once; the second one's version lands 8 s after the first one's, so that
    # Airflow makes one asset-triggered run per version (two events for one asset within one
    # scheduler loop: Airflow 3.3 takes the events up to the first queued one's time and drops
    # the queue entry, so the second event starts nothing; seen in a full run here)
    nightly = [
        api.post(
            "/api/v2/dags/real_nightly/dagRuns",
            {"logical_date": None, "conf": {"publish_after_s": delay}},
        )["dag_run_id"]  # type: ignore[index]
        for delay in (0, 8)
    ]
    _wait("both nightly runs", lambda: _finished(api, "real_nightly", nightly), airflow_cluster)
    produced = {
        run_id: _registry_runs(registry, "real_nightly", run_id, "build")[0]
        .logged_artifacts()[0]
        .ref
        for run_id in nightly
    }
    assert len(set(produced.values())) == 2, produced  # two versions of the training set

    def retrain_done():
        runs = [r for r in _runs(api, "real_retrain") if r["run_type"] == "asset_triggered"]
        events = {}
        for r in runs:
            got = api.get(
                f"/api/v2/dags/real_retrain/dagRuns/{r['dag_run_id']}/upstreamAssetEvents"
            )["asset_events"]  # type: ignore[index]
            events[r["dag_run_id"]] = [e["extra"]["ref"] for e in got if e["extra"].get("ref")]
        covered = {ref for refs in events.values() for ref in refs}
        if not set(produced.values()) <= covered:
            return None
        if not _finished(api, "real_retrain", list(events)):
            return None
        return events

    events = _wait("the asset-triggered retraining runs", retrain_done, airflow_cluster)
    for run_id, refs in events.items():
        newest = max(refs, key=lambda ref: int(ref.rsplit(":v", 1)[1]))
        (train,) = _registry_runs(registry, "real_retrain", run_id, "train")
        assert [v.ref for v in train.used_artifacts()] == [newest], (run_id, refs)
        assert train.logged_artifacts()[0].metadata["trained_on"] == newest
        assert train.info["trigger_pins"] == {"default/real-training-set": newest}
        assert sorted(e["ref"] for e in train.info["triggered_by"]) == sorted(set(refs))
        assert train.host.startswith(("w1@", "w2@")), train.host
        assert run_id in train.name and "(try 1)" in train.name

    # the mapped instances of one nightly run wrote ONE version, from the Celery workers
    first = nightly[0]
    stats_runs = _registry_runs(registry, "real_nightly", first, "stats")
    assert sorted(r.map_index for r in stats_runs) == [0, 1, 2, 3]
    assert {r.host.split("@")[0] for r in stats_runs} <= {"w1", "w2"}
    (commit,) = _registry_runs(registry, "real_nightly", first, "stats__commit")
    before = commit.logged_artifacts()[0]
    assert sorted(before.manifest.entries) == [f"shard-{i}.txt" for i in range(4)]

    # clear the mapped task of the finished run (and downstream), as the UI does
    api.post(
        "/api/v2/dags/real_nightly/clearTaskInstances",
        {
            "dag_run_id": first,
            "task_ids": ["stats"],
            "include_downstream": True,
            "only_failed": False,
            "dry_run": False,
        },
    )

    def cleared_done():
        commits = _registry_runs(registry, "real_nightly", first, "stats__commit")
        builds = _registry_runs(registry, "real_nightly", first, "build")
        if len(commits) < 2 or len(builds) < 2 or not _finished(api, "real_nightly", [first]):
            return None
        return commits, builds

    commits, builds = _wait("the cleared nightly run", cleared_done, airflow_cluster)
    after = max(commits, key=lambda r: r.try_number).logged_artifacts()[0]
    assert after.index > before.index
    assert sorted(after.manifest.entries) == sorted(before.manifest.entries)
    assert after.digest != before.digest  # the new tries wrote new parts (clear number 1)
    rebuilt = max(builds, key=lambda r: r.try_number)
    assert after.ref in [v.ref for v in rebuilt.used_artifacts()]
    assert rebuilt.try_number == 2 and "(try 2)" in rebuilt.name


def _cli(cluster, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "artiflow.cli", *args],
        env={**cluster["env"], **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def test_real_asset_watcher_starts_a_dag_from_a_cli_promotion(airflow_cluster, registry, tmp_path):
    api: _Api = airflow_cluster["api"]
    model = tmp_path / "model.txt"
    for text in ("first", "second"):
        model.write_text(text)
        _cli(airflow_cluster, "log", str(model), "--name", "real-watched-model", "--type", "model")

    def watcher_runs(n: int):
        runs = [r for r in _runs(api, "real_watcher") if r["run_type"] == "asset_triggered"]
        if len(runs) < n or not _finished(api, "real_watcher", [r["dag_run_id"] for r in runs]):
            return None
        return sorted(runs, key=lambda r: r["run_after"])

    deployed = []
    for version in ("v0", "v1"):  # promote the older version first: pinning, not "latest"
        _cli(airflow_cluster, "alias", f"real-watched-model:{version}", "production")
        runs = _wait(
            f"the watcher run for {version}",
            lambda n=len(deployed) + 1: watcher_runs(n),
            airflow_cluster,
            timeout=150,
        )
        run = runs[-1]
        got = api.get(f"/api/v2/dags/real_watcher/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")[
            "asset_events"
        ]  # type: ignore[index]
        payloads = [e["extra"]["payload"] for e in got if e["extra"].get("from_trigger")]
        assert [p["ref"] for p in payloads] == [f"default/real-watched-model:{version}"]
        assert payloads[0]["digest"] == registry.get(f"real-watched-model:{version}").digest
        (deploy,) = _registry_runs(registry, "real_watcher", run["dag_run_id"], "deploy")
        ref = f"default/real-watched-model:{version}"
        assert [v.ref for v in deploy.used_artifacts()] == [ref]
        assert deploy.info["trigger_pins"] == {"default/real-watched-model": ref}
        assert deploy.logged_artifacts()[0].metadata["deployed"] == ref
        deployed.append(ref)
    assert len(watcher_runs(2) or []) == 2  # one run per promotion, none for the logs


def _nightly_twice(api: _Api, cluster) -> None:
    """Two nightly runs at once (the asset events then start the retraining runs)."""
    runs = [
        api.post("/api/v2/dags/real_nightly/dagRuns", {"logical_date": None})["dag_run_id"]  # type: ignore[index]
        for _ in range(2)
    ]
    _wait("both nightly runs", lambda: _finished(api, "real_nightly", runs), cluster)


def test_real_replay_after_the_alias_moved_reproduces_the_digests(airflow_cluster, registry):
    """``artiflow replay`` (the CLI, through the Airflow REST API) of an asset-triggered
    retraining run, after newer training-set versions moved ``latest``: the new DAG run
    (``conf={"artiflow_lock": <run>}``) reads exactly what the original read, its model has the
    original's digest, and ``reproduced: yes`` is recorded in the replay's lock."""
    api: _Api = airflow_cluster["api"]

    def triggered_runs():
        runs = [r for r in _runs(api, "real_retrain") if r["run_type"] == "asset_triggered"]
        done = [r for r in runs if r["state"] == "success"]
        return sorted(done, key=lambda r: r["run_after"]) or None

    if not triggered_runs():  # this test alone: make the retraining runs the first test makes
        _nightly_twice(api, airflow_cluster)
    original = _wait("a finished retraining run", triggered_runs, airflow_cluster)[0]
    run_id = original["dag_run_id"]
    (train,) = _registry_runs(registry, "real_retrain", run_id, "train")
    (read,) = [v.ref for v in train.used_artifacts()]
    (model,) = train.logged_artifacts()
    # the alias moved: a newer training-set version is `latest` now (log one if none is)
    if registry.get("real-training-set:latest").ref == read:
        from artiflow import Artifact

        newer = Artifact("real-training-set")
        with newer.new_file("train.txt") as f:
            f.write(f"newer than {read}")
        registry.log(newer)
    assert registry.get("real-training-set:latest").ref != read

    started = json.loads(
        _cli(
            airflow_cluster,
            "replay",
            run_id,
            "--pipeline",
            "real_retrain",
            "--json",
            env={
                "ARTIFLOW_AIRFLOW_API_URL": api.base,
                "ARTIFLOW_AIRFLOW_USERNAME": "admin",
                "ARTIFLOW_AIRFLOW_PASSWORD": "admin",
            },
        )
    )
    assert started["started"] is True, started
    replay_run = started["new_run"]
    got = api.get(f"/api/v2/dags/real_retrain/dagRuns/{replay_run}")
    assert got["conf"] == {"artiflow_lock": run_id}, got  # type: ignore[index]
    _wait("the replay run", lambda: _finished(api, "real_retrain", [replay_run]), airflow_cluster)

    for task in ("train", "evaluate"):
        (again,) = _registry_runs(registry, "real_retrain", replay_run, task)
        assert again.info["replay_of"] == run_id
        assert "trigger_pins" not in again.info  # a manual run: the lock, not an event, pins it
        data = [v.ref for v in again.used_artifacts() if v.collection == "real-training-set"]
        assert data == [read], (task, data, read)
    (retrained,) = _registry_runs(registry, "real_retrain", replay_run, "train")
    (replayed_model,) = retrained.logged_artifacts()
    assert replayed_model.digest == model.digest
    assert replayed_model.metadata["trained_on"] == read

    lock = registry.run_lock("airflow", replay_run, pipeline="real_retrain")
    assert lock.replay_of == run_id
    assert [(o.collection, o.original_run, o.reproduced) for o in lock.replays] == [
        ("default/real-model", run_id, True)
    ]
    shown = json.loads(_cli(airflow_cluster, "lock", replay_run, "--json"))
    assert [r["reproduced"] for r in shown["replays"]] == [True]
