"""Quarantine in Airflow: gated promotion recorded as checks, asset events on every affected
collection (from a task, and from anywhere through ``ArtifactEventTrigger``), and an artifact
task on a quarantined input failing before its code runs, committing nothing."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from airflow_helpers import asset_events, task_states

from artiflow import Artifact
from artiflow.exceptions import ArtifactNotFoundError

pytestmark = pytest.mark.usefixtures("airflow_db")

RAW_URI = "x-artiflow://airflow-tests/default/af-q-raw"
MODEL_URI = "x-artiflow://airflow-tests/default/af-q-model"


def _queued(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AssetDagRunQueue)
            .where(AssetDagRunQueue.target_dag_id == dag_id)
        )


def marker() -> Path:
    """What the consumer's code writes when it runs (dag_files/af_quarantine.py)."""
    return Path(os.environ["ARTIFLOW_HOME"]) / "af-q-consumer-ran"


def _clear_queue(dag_id: str) -> None:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id))


def test_quarantine_in_airflow_gates_events_and_fail_fast(run_dag, registry):
    dr = run_dag("af_q_build")
    states = task_states(dr)
    assert states[("promote_ok", -1)] == "success"
    assert states[("promote_blocked", -1)] == "skipped"
    model = registry.get("af-q-model:production")
    checks = {c.name: c for c in model.checks}  # the gates, recorded as checks
    assert checks["auc"].passed is True and checks["auc"].details["threshold"] == 0.8
    assert checks["auc"].details["task"] == "promote_ok"
    assert checks["auc-gold"].passed is False
    assert "does not pass threshold" in checks["auc-gold"].details["reason"]

    _clear_queue("af_q_on_bad_model")  # the build's new model version queued it already
    before = (len(asset_events(RAW_URI)), len(asset_events(MODEL_URI)))
    dr = run_dag("af_q_guard")
    assert task_states(dr)[("validate", -1)] == "success"
    try:
        raw_events = asset_events(RAW_URI)[before[0] :]
        model_events = asset_events(MODEL_URI)[before[1] :]
        assert [e["kind"] for e in raw_events] == ["version.quarantined"]
        assert [e["kind"] for e in model_events] == ["version.quarantined"]
        assert raw_events[0]["root"] == model_events[0]["root"] == "default/af-q-raw:v0"
        assert model_events[0]["reason"] == "row count dropped 90%"
        assert model_events[0]["affected"] == [model.ref]
        assert _queued("af_q_on_bad_model") == 1  # a DAG on the asset reacts

        marker().unlink(missing_ok=True)
        dr = run_dag("af_q_consume")
        assert task_states(dr)[("report", -1)] == "failed"
        assert not marker().exists()  # the user's code never ran
        with pytest.raises(ArtifactNotFoundError):
            registry.versions("af-q-report")  # nothing committed
        (run,) = registry.runs(pipeline="af_q_consume", pipeline_run=dr.run_id)
        assert run.state == "FAILED"
        assert "QuarantinedError" in run.error or "quarantined" in run.error
        assert "default/af-q-raw:v0" in run.error
    finally:
        registry.release("af-q-raw:v0", by="test")


def test_an_overdue_alias_found_by_a_task_is_an_asset_event(run_dag, registry, tmp_path):
    """A freshness check in a task (``registry.overdue(emit=True)``) sends ``alias.overdue`` as
    an event on the alias's asset, with the age and the maximum age."""
    import time

    _log(registry, "af-q-fresh", "v0", tmp_path, aliases=["production"])
    registry.set_max_age("af-q-fresh", "production", 1)
    time.sleep(1.5)
    uri = "x-artiflow://airflow-tests/default/af-q-fresh/alias/production"
    before = len(asset_events(uri))
    dr = run_dag("af_q_freshness")
    assert task_states(dr)[("check_freshness", -1)] == "success"
    events = asset_events(uri)[before:]
    assert [e["kind"] for e in events] == ["alias.overdue"], events
    assert events[0]["max_age_s"] == 1 and events[0]["age_s"] >= 1
    assert events[0]["alias"] == "production"


def _log(registry, name, text, tmp_path, **kwargs):
    f = tmp_path / f"{name}-{text}.txt"
    f.write_text(text)
    a = Artifact(name)
    a.add_file(f, name="x.txt")
    return registry.log(a, **kwargs)


def test_event_trigger_fires_on_quarantine_and_release_from_anywhere(registry, tmp_path):
    from artiflow.operators import ArtifactEventTrigger

    raw = _log(registry, "evq-raw", "a", tmp_path)
    with registry.run("evq-train") as run:
        run.use(raw.ref)
        model = Artifact("evq-model")
        with model.new_file("m.txt") as f:
            f.write("m")
        model_v = run.log(model, aliases=["production"])

    async def scenario():
        trigger = ArtifactEventTrigger(
            ref="evq-model", poll_interval=0.05, kinds=["version.quarantined", "version.released"]
        )
        gen = trigger.run()
        pending = asyncio.ensure_future(asyncio.wait_for(gen.__anext__(), 20))
        await asyncio.sleep(0.4)
        assert not pending.done()  # nothing quarantined yet, and no version events asked for
        t = threading.Thread(target=registry.quarantine, args=(raw.ref, "bad sensor"))
        t.start()
        quarantined = await pending
        t.join()
        await asyncio.to_thread(registry.release, raw.ref)
        released = await asyncio.wait_for(gen.__anext__(), 20)
        await gen.aclose()
        return quarantined, released

    quarantined, released = asyncio.run(scenario())
    q = quarantined.payload
    assert q["kind"] == "version.quarantined" and q["root"] == raw.ref
    assert q["reason"] == "bad sensor" and q["affected"] == [model_v.ref]
    assert q["registry"] == "airflow-tests" and q["watched"] == "evq-model"
    assert released.payload["kind"] == "version.released" and released.payload["root"] == raw.ref

    # serialisable with its kinds; an unknown kind is refused
    path, kwargs = ArtifactEventTrigger(ref="evq-model", kinds=["version.quarantined"]).serialize()
    assert kwargs["kinds"] == ["version.quarantined"]
    assert ArtifactEventTrigger(**kwargs).serialize() == (path, kwargs)
    with pytest.raises(ValueError, match="unknown kinds"):
        ArtifactEventTrigger(ref="evq-model", kinds=["version.deleted"])


def test_rebuild_plan_replays_the_dag_on_the_named_version(run_dag, registry, tmp_path, capsys):
    """``artiflow impact RAW --plan --replace RAW=FIXED`` prints the ``artiflow replay ... --input``
    command of the DAG run that consumed RAW; that command prints the ``airflow dags trigger``
    conf, and the DAG run with that conf (``dag.test(run_conf=...)``) reads FIXED."""
    import json
    import shlex

    from artiflow.cli import main

    _log(registry, "af-rb-raw", "good", tmp_path)
    bad = _log(registry, "af-rb-raw", "zeros", tmp_path, aliases=["production"])
    first = run_dag("af_rb_features")
    assert task_states(first)[("featurize", -1)] == "success"
    built = registry.get("af-rb-features:latest")
    assert (built.download(tmp_path / "a") / "f.txt").read_text() == "features of zeros"
    registry.quarantine(bad.ref, "sensor 7 sent zeros", by="test")
    try:
        fixed = _log(registry, "af-rb-raw", "fixed", tmp_path)
        capsys.readouterr()
        assert (
            main(["impact", bad.ref, "--plan", "--replace", f"{bad.ref}={fixed.ref}", "--json"])
            == 0
        )
        (step,) = json.loads(capsys.readouterr().out)["plan"]
        assert step["pipeline"] == "af_rb_features" and step["tasks"] == ["featurize"]
        assert step["command"] == shlex.join(
            [
                "artiflow",
                "replay",
                first.run_id,
                "--orchestrator",
                "airflow",
                "--pipeline",
                "af_rb_features",
                "--input",
                f"default/af-rb-raw={fixed.ref}",
            ]
        )
        assert main(shlex.split(step["command"])[1:]) == 0
        trigger = capsys.readouterr().out.splitlines()[-1]
        assert trigger.startswith("airflow dags trigger af_rb_features --conf ")
        conf = json.loads(shlex.split(trigger)[-1])
        again = run_dag("af_rb_features", run_conf=conf)
        assert task_states(again)[("featurize", -1)] == "success"
        rebuilt = registry.get("af-rb-features:latest")  # clean: resolves through latest
        assert rebuilt.index == built.index + 1
        assert (rebuilt.download(tmp_path / "b") / "f.txt").read_text() == "features of fixed"
        (run,) = registry.runs(pipeline="af_rb_features", pipeline_run=again.run_id)
        assert [v.ref for v in run.used_artifacts()] == [fixed.ref]
        assert run.info["replay_of"] == conf["artiflow_lock"]
    finally:
        registry.release(bad.ref, by="test")


def test_event_trigger_fires_when_a_watched_alias_turns_overdue(registry, tmp_path):
    """``kinds=["alias.overdue"]``: the trigger itself notices the alias outgrow its maximum
    age (no ``overdue(emit=True)`` schedule): one event per turn, none while fresh, and again
    after the alias moved to a fresh version that aged too."""

    from artiflow.operators import ArtifactEventTrigger

    v0 = _log(registry, "evq-fresh", "a", tmp_path, aliases=["production"])

    async def scenario():
        trigger = ArtifactEventTrigger(
            ref="evq-fresh:production", poll_interval=0.05, kinds=["alias.overdue"]
        )
        gen = trigger.run()
        pending = asyncio.ensure_future(asyncio.wait_for(gen.__anext__(), 30))
        await asyncio.sleep(2)  # the baseline: no maximum age yet, so not overdue
        assert not pending.done()
        await asyncio.to_thread(registry.set_max_age, "evq-fresh", "production", 1)
        first = await pending  # v0 is older than 1 s
        # a fresh version on the alias: no event until it is 1 s old too
        fresh = await asyncio.to_thread(
            _log, registry, "evq-fresh", "b", tmp_path, aliases=["production"]
        )
        pending = asyncio.ensure_future(asyncio.wait_for(gen.__anext__(), 20))
        await asyncio.sleep(0.5)
        assert not pending.done()
        second = await pending
        await gen.aclose()
        return first, fresh, second

    first, fresh, second = asyncio.run(scenario())
    p = first.payload
    assert p["kind"] == "alias.overdue" and p["ref"] == v0.ref and p["alias"] == "production"
    assert p["max_age_s"] == 1 and p["age_s"] > 1 and p["watched"] == "evq-fresh:production"
    assert p["registry"] == "airflow-tests"
    assert second.payload["ref"] == fresh.ref and second.payload["kind"] == "alias.overdue"
    assert second.payload["age_s"] > 1

    # opt-in: the default kinds never poll freshness; the kind round-trips serialisation
    assert "alias.overdue" not in ArtifactEventTrigger(ref="evq-fresh:production").kinds
    path, kwargs = ArtifactEventTrigger(
        ref="evq-fresh:production", kinds=["alias.overdue"]
    ).serialize()
    assert ArtifactEventTrigger(**kwargs).serialize() == (path, kwargs)
