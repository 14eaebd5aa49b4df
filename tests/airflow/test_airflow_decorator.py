"""@artifact_task end to end under dag.test(): runs, pinning, failures, mapped tasks."""

from __future__ import annotations

import pytest
from airflow_helpers import asset_events, task_states, xcom

from artiflow import Artifact
from artiflow.exceptions import ArtifactNotFoundError

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_pinning_against_a_concurrent_writer(run_dag, registry):
    dr = run_dag("af_pinning")
    assert set(task_states(dr).values()) == {"success"}

    versions = registry.versions("pin-data")
    assert [v.version for v in versions] == ["v0", "v1"]  # the intruder logged v1 in between
    produced, intruded = versions
    assert produced.logged_by().task == "produce"
    assert produced.logged_by().pipeline_run == dr.run_id
    assert intruded.logged_by() is None
    assert "hot" in intruded.aliases

    out = xcom(dr, "consume")
    # no selector and ":latest" both pin to what the upstream task produced in this DAG run
    assert out["pinned"] == out["pinned_latest"] == produced.ref
    assert out["text"] == f"from the DAG run {dr.run_id}"
    # an explicit alias resolves globally
    assert out["hot"] == intruded.ref

    consumer = next(r for r in registry.runs(pipeline="af_pinning") if r.task == "consume")
    assert consumer.orchestrator == "airflow"
    assert consumer.pipeline_run == dr.run_id
    assert consumer.try_number == 1 and consumer.map_index == -1
    assert consumer.state == "SUCCESS"
    assert sorted(v.ref for v in consumer.used_artifacts()) == sorted({produced.ref, intruded.ref})
    assert xcom(dr, "consume", key="artiflow")["inputs"]["pinned"] == produced.ref

    lineage = registry.lineage(produced.ref, direction="downstream")
    assert f"run:{consumer.id}" in {r["id"] for r in lineage.runs()}
    assert any(e[2] == "used" for e in lineage.edges)


def test_a_failed_try_commits_nothing(run_dag, registry):
    seed = Artifact("fail-g", type="dataset")
    with seed.new_file("seed.txt") as f:
        f.write("a dataset")
    registry.log(seed)
    dr = run_dag("af_failure")
    states = task_states(dr)
    assert states[("second_output_rejected", -1)] == "failed"
    with pytest.raises(ArtifactNotFoundError):
        registry.get("fail-f")  # committed together with the rejected fail-g: nothing visible
    assert [v.version for v in registry.versions("fail-g")] == ["v0"]
    assert states[("half_written", -1)] == "failed"
    assert states[("one_empty", -1)] == "failed"
    assert states[("bad_template", -1)] == "failed"

    for name in ("fail-a", "fail-b", "fail-c", "fail-d", "fail-e"):
        with pytest.raises(ArtifactNotFoundError):
            registry.get(name)

    runs = {r.task: r for r in registry.runs(pipeline="af_failure", pipeline_run=dr.run_id)}
    assert runs["half_written"].state == "FAILED"
    assert "boom after writing a" in runs["half_written"].error
    assert runs["one_empty"].state == "FAILED"
    assert "is empty" in runs["one_empty"].error
    assert runs["half_written"].logged_artifacts() == []
    # failed before execute (template rendering): recorded by the plugin's listener
    assert runs["bad_template"].state == "FAILED"
    assert runs["bad_template"].info.get("recorded_by") == "listener"
    assert "no_such_variable" in runs["bad_template"].error


def test_mapped_instances_write_one_version(run_dag, registry):
    dr = run_dag("af_mapped")
    states = task_states(dr)
    assert {states[("write_part", i)] for i in range(3)} == {"success"}
    assert states[("write_part__commit", -1)] == "success"

    versions = registry.versions("mapped-parts")
    assert len(versions) == 1
    v = versions[0]
    assert sorted(v.manifest.entries) == ["part-0.txt", "part-1.txt", "part-2.txt"]
    committer = v.logged_by()
    assert committer.task == "write_part__commit"
    assert [u.collection for u in committer.used_artifacts()] == ["mapped-seed"]

    instance_runs = [r for r in registry.runs(pipeline_run=dr.run_id) if r.task == "write_part"]
    assert sorted(r.map_index for r in instance_runs) == [0, 1, 2]
    assert all(r.state == "SUCCESS" for r in instance_runs)

    # one asset event for the DAG run's version (from the commit task), none per instance
    events = [
        e
        for e in asset_events("x-artiflow://airflow-tests/default/mapped-parts")
        if e["_run_id"] == dr.run_id
    ]
    assert [e["ref"] for e in events] == [v.ref]

    out = xcom(dr, "read_parts")
    assert out["ref"] == v.ref  # pinned to the version committed in this DAG run
    assert out["files"] == ["part-0.txt", "part-1.txt", "part-2.txt"]
    assert out["values"] == [0, 10, 20]  # the commit task passes the instances' results on

    upstream = registry.lineage(v.ref, direction="upstream")
    assert any("mapped-seed" in str(n) for n in upstream.versions())
    assert f"run:{committer.id}" in {r["id"] for r in upstream.runs()}


def test_task_artiflow_from_the_provider(run_dag, registry):
    from artiflow.provider_info import get_provider_info

    info = get_provider_info()
    assert info["task-decorators"] == [
        {"name": "artiflow", "class-name": "artiflow.operators.artifact_task"}
    ]
    dr = run_dag("af_provider")
    assert set(task_states(dr).values()) == {"success"}
    assert str(xcom(dr, "read")) == "7"
    assert registry.get("provider-data").logged_by().task == "make"


def test_a_retry_records_one_run_per_try_and_one_version(run_dag, registry):
    dr = run_dag("af_retry")
    assert task_states(dr)[("flaky", -1)] == "success"
    runs = sorted(
        registry.runs(pipeline="af_retry", pipeline_run=dr.run_id), key=lambda r: r.try_number
    )
    assert [(r.try_number, r.state) for r in runs] == [(1, "FAILED"), (2, "SUCCESS")]
    assert "transient failure" in runs[0].error
    (version,) = registry.versions("retry-data")
    assert version.logged_by() == runs[1]
    assert runs[0].logged_artifacts() == []


def test_the_registry_can_come_from_an_airflow_connection(run_dag, registry, tmp_path, monkeypatch):
    import json

    from artiflow import Registry

    home = tmp_path / "from-connection"
    conn = {"conn_type": "generic", "extra": {"home": str(home)}}
    monkeypatch.setenv("AIRFLOW_CONN_ARTIFLOW_TEST", json.dumps(conn))
    monkeypatch.setenv("ARTIFLOW_CONN_ID", "artiflow_test")
    dr = run_dag("af_provider")
    assert set(task_states(dr).values()) == {"success"}
    with Registry(home=home) as reg:
        assert reg.get("provider-data").logged_by().pipeline_run == dr.run_id
    with pytest.raises(ArtifactNotFoundError):
        registry.get("provider-data")  # the ARTIFLOW_HOME registry was not used
