"""A pipeline's life across DAG runs: trigger pinning, replay conf, clears, manual runs and
how runs are named (real Airflow: dag.test(), and runs created / cleared like the scheduler and
the UI do, executed by the same in-process task runner)."""

from __future__ import annotations

import socket

import pytest
from airflow_helpers import (
    add_asset_event,
    asset_event_ids,
    clear,
    create_run,
    run_existing,
    task_states,
    xcom,
)

pytestmark = pytest.mark.usefixtures("airflow_db")

DATASET_URI = "x-artiflow://airflow-tests/default/bike-training-set"


def _runs(registry, dag_id, run_id, task=None):
    return [
        r
        for r in registry.runs(
            orchestrator="airflow", pipeline=dag_id, pipeline_run=run_id, limit=None
        )
        if task is None or r.task == task
    ]


def _all_success(dag_run):
    states = task_states(dag_run)
    assert set(states.values()) == {"success"}, states


def test_each_asset_triggered_run_trains_on_the_version_that_triggered_it(
    run_dag, dagbag, registry
):
    """Two nightly builds, then the retraining runs the scheduler would create for their
    events: each trains on its own triggering version, not on the newest one."""
    first = run_dag("bike_dataset_nightly")
    _all_success(first)
    v_first = registry.get("bike-training-set")
    second = run_dag("bike_dataset_nightly")
    _all_success(second)
    v_second = registry.get("bike-training-set")
    assert v_second.index > v_first.index  # manual runs: a usable day, data of their own
    day = registry.get("bike-rides").metadata["day"]
    assert day != "None" and len(day) == 10
    events = asset_event_ids(DATASET_URI)
    ev_first, ev_second = events[-2], events[-1]

    retrain = dagbag.dags["bike_model_retrain"]
    runs = {
        "first": create_run(retrain, "pin-first", events=[ev_first]),
        "second": create_run(retrain, "pin-second", events=[ev_second]),
        "merged": create_run(retrain, "pin-merged", events=[ev_first, ev_second]),
    }
    expected = {"first": v_first, "second": v_second, "merged": v_second}
    for key, run_id in runs.items():
        dr = run_existing(retrain, run_id)
        states = task_states(dr)
        assert states[("train", -1)] == "success", states
        (train,) = _runs(registry, "bike_model_retrain", run_id, "train")
        model = train.logged_artifacts()[0]
        assert model.metadata["trained_on"] == expected[key].ref, key
        assert [v.ref for v in train.used_artifacts()] == [expected[key].ref]
        assert train.info["trigger_pins"] == {"default/bike-training-set": expected[key].ref}
        # evaluate uses the same dataset version and the model train logged in this run
        (evaluate,) = _runs(registry, "bike_model_retrain", run_id, "evaluate")
        assert sorted(v.ref for v in evaluate.used_artifacts()) == sorted(
            [model.ref, expected[key].ref]
        )
    merged = _runs(registry, "bike_model_retrain", runs["merged"], "train")[0]
    assert [e["ref"] for e in merged.info["triggered_by"]] == [v_first.ref, v_second.ref]
    assert {e["source_run_id"] for e in merged.info["triggered_by"]} == {
        first.run_id,
        second.run_id,
    }


def test_events_of_another_registry_or_without_artiflow_extras_are_ignored(
    run_dag, dagbag, registry
):
    _all_success(run_dag("bike_dataset_nightly"))
    ev_other = add_asset_event(
        DATASET_URI,
        {"ref": "default/bike-training-set:v0", "version": "v0", "registry": "other-registry"},
    )
    ev_plain = add_asset_event(DATASET_URI, {"note": "posted by hand"})
    newest = registry.get("bike-training-set")
    retrain = dagbag.dags["bike_model_retrain"]
    run_id = create_run(retrain, "pin-foreign", events=[ev_other, ev_plain])
    run_existing(retrain, run_id)
    (train,) = _runs(registry, "bike_model_retrain", run_id, "train")
    assert "trigger_pins" not in train.info
    assert train.logged_artifacts()[0].metadata["trained_on"] == newest.ref


def test_replay_conf_is_recorded_and_validated(run_dag, registry):
    from airflow_helpers import dags_folder  # noqa: F401  (the DAG files are in place)

    dr = run_dag("af_pinning", run_conf={"artiflow_lock": "manual__2026-01-01T00:00:00+00:00"})
    _all_success(dr)
    runs = _runs(registry, "af_pinning", dr.run_id)
    assert runs and {r.info.get("replay_of") for r in runs} == {"manual__2026-01-01T00:00:00+00:00"}

    bad = run_dag("af_pinning", run_conf={"artiflow_lock": ["not", "a", "run id"]})
    assert "failed" in set(task_states(bad).values())
    # refused before anything ran: the failed try is recorded with the reason, nothing logged
    failed = _runs(registry, "af_pinning", bad.run_id)
    assert failed and {r.state for r in failed} == {"FAILED"}
    assert all("artiflow_lock" in r.error and not r.logged_artifacts() for r in failed)


def test_replay_of_is_filled_from_the_conf():
    from types import SimpleNamespace as NS

    from artiflow._tasking import PipelineRun
    from artiflow.exceptions import InvalidFieldError
    from artiflow.operators._runtime import airflow_task_context

    ti = NS(dag_id="d", run_id="manual__2", task_id="t", try_number=1, map_index=-1)
    ctx = airflow_task_context({"dag_run": NS(conf={"artiflow_lock": "manual__1"})}, ti)
    assert ctx.replay_of == PipelineRun("airflow", "d", "manual__1")
    assert ctx.lock_parent is None and ctx.trigger_pins == {}
    for bad in ("", "two words", "x" * 251, 7):
        with pytest.raises(InvalidFieldError, match="artiflow_lock"):
            airflow_task_context({"dag_run": NS(conf={"artiflow_lock": bad})}, ti)


def test_clearing_finished_tasks_builds_new_versions_downstream_consumes(run_dag, dagbag, registry):
    dag = dagbag.dags["af_clear"]
    dr = run_dag("af_clear")
    _all_success(dr)
    v0 = registry.get("clear-parts")
    s0 = registry.get("clear-single")
    assert xcom(dr, "read_parts")["files"] == {f"part-{i}.txt": f"{i}-clear0" for i in range(3)}

    # 1. clear the whole mapped task (and downstream): a NEW collaborative version
    assert clear(dr, ["write_part", "write_part__commit", "read_parts"]) == 1
    dr = run_existing(dag, dr.run_id)
    _all_success(dr)
    v1 = registry.get("clear-parts")
    assert v1.index == v0.index + 1
    got = xcom(dr, "read_parts")
    assert got["ref"] == v1.ref
    assert got["files"] == {f"part-{i}.txt": f"{i}-clear1" for i in range(3)}
    commit_runs = _runs(registry, "af_clear", dr.run_id, "write_part__commit")
    assert {r.try_number for r in commit_runs} == {1, 2}

    # 2. clear one map index only: the others' parts are carried over into the new version
    assert clear(dr, ["write_part", "write_part__commit", "read_parts"], map_indexes=[1]) == 2
    dr = run_existing(dag, dr.run_id)
    _all_success(dr)
    v2 = registry.get("clear-parts")
    assert v2.index == v1.index + 1
    got = xcom(dr, "read_parts")
    assert got["ref"] == v2.ref
    assert got["files"] == {
        "part-0.txt": "0-clear1",
        "part-1.txt": "1-clear2",
        "part-2.txt": "2-clear1",
    }

    # 3. clear the commit task only: the same version again, consumed again
    clear(dr, ["write_part__commit", "read_parts"])
    dr = run_existing(dag, dr.run_id)
    _all_success(dr)
    assert registry.get("clear-parts").ref == v2.ref
    assert xcom(dr, "read_parts")["ref"] == v2.ref

    # 4. a plain (not mapped) task and its consumer re-run after a clear
    n = clear(dr, ["single", "read_single"])
    dr = run_existing(dag, dr.run_id)
    _all_success(dr)
    s1 = registry.get("clear-single")
    assert s1.index == s0.index + 1
    assert xcom(dr, "read_single") == {"ref": s1.ref, "text": f"clear{n}"}
    single_runs = _runs(registry, "af_clear", dr.run_id, "single")
    assert sorted(r.info.get("clear_number", 0) for r in single_runs) == [0, n]


def test_runs_are_named_with_the_dag_run_try_and_map_index(run_dag, registry):
    dr = run_dag("af_mapped")
    _all_success(dr)
    runs = _runs(registry, "af_mapped", dr.run_id)
    names = {(r.task, r.map_index): r.name for r in runs}
    assert names[("write_part", 2)] == f"af_mapped.write_part[2] @ {dr.run_id} (try 1)"
    assert names[("seed", -1)] == f"af_mapped.seed @ {dr.run_id} (try 1)"
    assert {r.host for r in runs} == {socket.gethostname()}  # no Celery worker here


def test_trigger_pins_from_events_newest_per_collection_each_event_once():
    """The accessor lists an event under its asset and under each asset alias it came through;
    old URIs without a registry still count; other registries and non-artiflow assets do not."""
    from types import SimpleNamespace as NS

    from artiflow.operators._pins import trigger_pins

    ours = NS(uri="x-artiflow://prod/default/ds")
    legacy = NS(uri="x-artiflow://team/model")
    promoted = NS(uri="x-artiflow://prod/team/model/alias/production")

    def ev(asset, ref, run, **extra):
        return NS(
            asset=asset,
            extra={"ref": ref, "version": ref.rsplit(":", 1)[1], **extra},
            source_dag_id="nightly",
            source_run_id=run,
            timestamp=run,
        )

    e1, e3 = ev(ours, "default/ds:v1", "r1"), ev(ours, "default/ds:v3", "r3")
    events = {
        "ds": [e3, e1],
        "alias-of-ds": [e1],  # the same event again, through an AssetAlias
        "model": [ev(legacy, "team/model:v0", "r4")],
        "promotion": [ev(promoted, "team/model:v2", "r5", alias="production")],
        "foreign": [ev(NS(uri="x-artiflow://other/default/ds"), "default/ds:v9", "r6")],
        "s3": [ev(NS(uri="s3://bucket/key"), "default/ds:v8", "r7")],
    }
    got = trigger_pins(events, registry="prod")
    assert got.pins == {"default/ds": "default/ds:v3", "team/model": "team/model:v2"}
    assert [(e["ref"], e["source_run_id"]) for e in got.events] == [
        ("default/ds:v1", "r1"),
        ("default/ds:v3", "r3"),
        ("team/model:v0", "r4"),
        ("team/model:v2", "r5"),
    ]
    assert trigger_pins(None, registry="prod").pins == {}
