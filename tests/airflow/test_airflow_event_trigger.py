"""``ArtifactEventTrigger``: an AssetWatcher trigger that fires on registry changes made
anywhere (here: another thread's Registry, as the CLI or Prefect would). The real-scheduler
test (test_airflow_real_scheduler.py) starts a DAG from a CLI promotion."""

from __future__ import annotations

import asyncio
import threading

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
