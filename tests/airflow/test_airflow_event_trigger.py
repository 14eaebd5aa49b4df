"""``ArtifactEventTrigger``: an AssetWatcher trigger that fires on registry changes made
anywhere (here: another thread's Registry, as the CLI or Prefect would). The real-scheduler
test (test_airflow_real_scheduler.py) starts a DAG from a CLI promotion."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from artiflow import Artifact


def _log(registry, name, text, tmp_path, **kwargs):
    f = tmp_path / f"{name}-{text}.txt"
    f.write_text(text)
    a = Artifact(name, type="model")
    a.add_file(f, name="model.txt")
    return registry.log(a, **kwargs)


async def _next_event(gen, timeout=20.0):
    return await asyncio.wait_for(gen.__anext__(), timeout)


def test_run_yields_an_event_per_alias_move_with_ref_version_digest(registry, tmp_path):
    from airflow.triggers.base import TriggerEvent

    from artiflow.operators import ArtifactEventTrigger
    from artiflow.operators.event_trigger import initial_cursor

    v0 = _log(registry, "evt-model", "a", tmp_path, aliases=["production"])
    v1 = _log(registry, "evt-model", "b", tmp_path)
    v2 = _log(registry, "evt-model", "c", tmp_path)

    # the cursor the trigger starts from (given: the trigger's own start may race the move)
    cursor = initial_cursor(registry, "evt-model:production")

    async def scenario():
        trigger = ArtifactEventTrigger(ref="evt-model:production", poll_interval=0.05, since=cursor)
        gen = trigger.run()
        pending = asyncio.ensure_future(_next_event(gen))
        await asyncio.sleep(0.5)
        assert not pending.done()  # the move before the trigger started is its baseline
        # moved "from anywhere": another thread with its own registry handle
        await asyncio.to_thread(registry.alias, v1.ref, "production")
        first = await pending
        await asyncio.to_thread(registry.alias, v2.ref, "production")
        second = await _next_event(gen)
        await gen.aclose()
        return first, second

    first, second = asyncio.run(scenario())
    assert isinstance(first, TriggerEvent)
    assert first.payload["ref"] == v1.ref and first.payload["digest"] == v1.digest
    assert first.payload["version"] == "v1" and first.payload["alias"] == "production"
    assert first.payload["previous"] == v0.version
    assert first.payload["registry"] == "airflow-tests"
    assert first.payload["kind"] == "alias.moved"
    assert second.payload["ref"] == v2.ref and second.payload["previous"] == "v1"


def test_run_yields_new_versions_of_a_collection_and_since_replays(registry, tmp_path):
    from artiflow.operators import ArtifactEventTrigger
    from artiflow.operators.event_trigger import initial_cursor

    v0 = _log(registry, "evt-data", "a", tmp_path)
    assert initial_cursor(registry, "evt-data") == "v0"

    async def scenario():
        gen = ArtifactEventTrigger(ref="evt-data", poll_interval=0.05, since="v0").run()
        pending = asyncio.ensure_future(_next_event(gen))
        await asyncio.sleep(0.3)
        assert not pending.done()
        t = threading.Thread(target=_log, args=(registry, "evt-data", "b", tmp_path))
        t.start()
        ev = await pending
        t.join()
        await gen.aclose()
        # an explicit cursor announces everything after it
        gen = ArtifactEventTrigger(ref="evt-data", poll_interval=0.05, since="v-1").run()
        replayed = [await _next_event(gen), await _next_event(gen)]
        await gen.aclose()
        return ev, replayed

    ev, replayed = asyncio.run(scenario())
    assert ev.payload["version"] == "v1" and ev.payload["kind"] == "version.created"
    assert [e.payload["ref"] for e in replayed] == [v0.ref, ev.payload["ref"]]


def test_asset_watcher_accepts_it_and_payload_pins_the_run():
    from airflow.sdk import AssetWatcher

    from artiflow.operators import ArtifactEventTrigger, ArtifactTrigger, alias_asset
    from artiflow.operators._pins import trigger_pins

    trigger = ArtifactEventTrigger(ref="m:production", poll_interval=3, artiflow_conn_id="x")
    asset = alias_asset("m", "production", watchers=[AssetWatcher(name="w", trigger=trigger)])
    assert asset.watchers[0].trigger is trigger
    path, kwargs = trigger.serialize()
    assert ArtifactEventTrigger(**kwargs).serialize() == (path, kwargs)
    with pytest.raises(Exception, match="BaseEventTrigger"):
        AssetWatcher(name="w", trigger=ArtifactTrigger(ref="m:production", baseline=None))
    with pytest.raises(ValueError, match="fixed version"):
        ArtifactEventTrigger(ref="m:v3")
    # what the triggerer stores on the asset event: {"from_trigger": True, "payload": ...}
    from types import SimpleNamespace as NS

    payload = {
        "ref": "default/m:v4",
        "project": "default",
        "name": "m",
        "version": "v4",
        "digest": "ab",
        "alias": "production",
        "registry": "airflow-tests",
    }
    ev = NS(asset=asset, extra={"from_trigger": True, "payload": payload})
    assert trigger_pins({"m": [ev]}, registry="airflow-tests").pins == {"default/m": "default/m:v4"}


def test_the_triggerer_runs_it_in_ack_mode_with_a_cursor_that_outlives_the_trigger():
    """In the triggerer the trigger is a shared stream with a producer (Airflow's ack mode: the
    producer hears which events Airflow stored); its cursor key names what it watches, not how
    often, so a trigger re-created with another poll_interval keeps its cursor."""
    from airflow.triggers.base import BaseEventTrigger

    from artiflow.operators import ArtifactEventTrigger
    from artiflow.operators.event_trigger import ArtifactEventProducer

    trigger = ArtifactEventTrigger(ref="m:production", poll_interval=3, artiflow_conn_id="x")
    assert trigger.shared_stream_key() is not None
    assert (
        ArtifactEventTrigger.create_shared_stream_producer.__func__  # type: ignore[attr-defined]
        is not BaseEventTrigger.create_shared_stream_producer.__func__  # type: ignore[attr-defined]
    )
    _path, kwargs = trigger.serialize()
    producer = ArtifactEventTrigger.create_shared_stream_producer(kwargs)
    assert isinstance(producer, ArtifactEventProducer)
    recreated = ArtifactEventTrigger(**{**kwargs, "poll_interval": 60})
    assert (
        recreated.cursor_key
        == trigger.cursor_key
        == "artiflow.cursor:m:production@x|alias.moved,version.created"
    )
    assert (
        ArtifactEventTrigger(ref="m:production", kinds=["alias.moved"]).cursor_key
        != trigger.cursor_key
    )
    assert (
        ArtifactEventTrigger(ref="m:staging", artiflow_conn_id="x").cursor_key != trigger.cursor_key
    )


# ---- the real triggerer: the cursor survives a restart -----------------------------------

REPO = Path(__file__).resolve().parent.parent.parent
WATCHER_DAG = Path(__file__).resolve().parent / "dag_files" / "triggerer" / "restart_watcher.py"
AIRFLOW = [sys.executable, "-m", "airflow"]


class _Airflow:
    """An Airflow of its own (SQLite metadata in a temporary AIRFLOW_HOME) whose only running
    component is ``airflow triggerer``: the triggerer itself stores the asset events of an
    AssetWatcher (no scheduler needed), so they are counted in its database."""

    def __init__(self, root: Path, registry_home: Path) -> None:
        self.root = root
        home, dags = root / "home", root / "dags"
        home.mkdir(parents=True)
        dags.mkdir()
        shutil.copy(WATCHER_DAG, dags / WATCHER_DAG.name)
        self.db = root / "airflow.db"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "ARTIFLOW_", "_AIRFLOW")) and k != "PYTEST_CURRENT_TEST"
        }
        self.env.update(
            {
                # the subprocesses import this checkout's artiflow, like the tests do
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db}",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                # a triggerer whose heartbeat is this old (s) counts as gone: its triggers go to
                # the next one. After the SIGKILL the dead one never ends its job, so the new one
                # waits this long before it takes the watchers over (Airflow's default: 30)
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                "ARTIFLOW_HOME": str(registry_home),
                "ARTIFLOW_REGISTRY_NAME": "triggerer-tests",
            }
        )
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            done = subprocess.run(
                [*AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])

    def start(self) -> None:
        self.starts += 1
        self.log = open(self.root / f"triggerer-{self.starts}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*AIRFLOW, "triggerer"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.log.close()
        self.proc = None

    def tail(self) -> str:
        logs = sorted(self.root.glob("triggerer-*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in logs)

    def _query(self, sql: str) -> list[tuple]:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def events(self) -> dict[str, list[str]]:
        """What the triggerer's asset events announced, by kind, in the order it stored them:
        versions (``version.created``, ``alias.moved``) or quarantined roots (``v0``)."""
        rows = self._query("SELECT extra FROM asset_event ORDER BY id")
        extras = [json.loads(e) if isinstance(e, str) else e for (e,) in rows]
        out: dict[str, list[str]] = {}
        for x in extras:
            if x.get("from_trigger"):
                p = x["payload"]
                label = p["root"].rsplit(":", 1)[1] if "root" in p else p["version"]
                out.setdefault(p["kind"], []).append(label)
        return out

    def cursors(self) -> dict[str, dict]:
        """The triggers' cursors in the asset state store, by key."""
        rows = self._query("SELECT key, value FROM asset_state_store")
        return {k: json.loads(v) for k, v in rows if k.startswith("artiflow.cursor:")}

    def wait(self, what: str, check, timeout: float = 180.0):
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is None or self.proc.poll() is None, f"triggerer exited\n{self.tail()}"
            try:
                got = check()
            except sqlite3.OperationalError:  # the database is being written, or not yet
                got = None
            if got:
                return got
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{self.tail()}"
            time.sleep(0.5)


@pytest.mark.timeout(900)
def test_real_triggerer_resumes_from_its_cursor_no_missed_and_no_duplicate_events(tmp_path):
    """Versions logged, alias moves and quarantines made while the triggerer is down (stopped
    with SIGTERM, then killed with SIGKILL) are announced once it is back, and the ones
    announced before are not announced again: one asset event per change, in order, across
    two restarts, for three watchers (two of them on the same Asset)."""
    from artiflow import Registry

    registry_home = tmp_path / "registry"
    airflow = _Airflow(tmp_path / "airflow", registry_home)
    registry = Registry(home=registry_home)
    name = "evt-restart-data"
    data_key = f"artiflow.cursor:{name}|alias.moved,version.created"
    alias_key = f"artiflow.cursor:{name}:production|alias.moved,version.created"
    bad_key = f"artiflow.cursor:{name}|version.quarantined,version.released"

    def cursor(key):
        return airflow.cursors().get(key, {}).get("cursor")

    def quarantined():
        return sorted(airflow.cursors().get(bad_key, {}).get("quarantines", {}))

    try:
        # before the first start: the baseline, never announced
        v0 = _log(registry, name, "0", tmp_path, aliases=["production"])
        airflow.start()
        airflow.wait("the three cursors", lambda: len(airflow.cursors()) == 3)
        assert cursor(data_key) == "v0" and cursor(alias_key) is not None
        assert airflow.events() == {}

        v1 = _log(registry, name, "1", tmp_path)
        registry.alias(v1.ref, "production")
        registry.quarantine(v0.ref, "bad sensor")
        expected = {"version.created": ["v1"], "alias.moved": ["v1"], "version.quarantined": ["v0"]}
        airflow.wait("the first three events", lambda: airflow.events() == expected)
        # each cursor moves once Airflow confirmed it stored the event
        airflow.wait("the cursors after them", lambda: cursor(data_key) == "v1" and quarantined())

        airflow.stop(signal.SIGTERM)  # a graceful restart (a deploy): changes while down
        _log(registry, name, "2", tmp_path)
        v3 = _log(registry, name, "3", tmp_path)
        registry.alias(f"{name}:v2", "production")
        registry.release(v0.ref)
        airflow.start()
        expected = {
            "version.created": ["v1", "v2", "v3"],
            "alias.moved": ["v1", "v2"],
            "version.quarantined": ["v0"],
            "version.released": ["v0"],
        }
        airflow.wait("the changes made while stopped", lambda: airflow.events() == expected)
        airflow.wait(
            "the cursors after them", lambda: cursor(data_key) == "v3" and not quarantined()
        )

        airflow.stop(signal.SIGKILL)  # a crash
        _log(registry, name, "4", tmp_path)
        registry.alias(v3.ref, "production")
        registry.quarantine(v1.ref, "late labels")
        airflow.start()
        expected["version.created"].append("v4")
        expected["alias.moved"].append("v3")
        expected["version.quarantined"].append("v1")
        airflow.wait("the changes made while killed", lambda: airflow.events() == expected)
        time.sleep(5)  # ten more polls: nothing is announced twice
        assert airflow.events() == expected, airflow.tail()
    finally:
        if airflow.proc is not None:
            airflow.stop(signal.SIGKILL)
        registry.close()
