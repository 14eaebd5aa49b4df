"""Classic operators, the gate, the sensor (deferrable and poke), OpenLineage helpers."""

from __future__ import annotations

import threading
import time

import pytest
from airflow_helpers import task_states, xcom

from artiflow import Artifact, Registry

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_classic_operators_and_the_promotion_gate(run_dag, registry):
    dr = run_dag("af_classic")
    states = task_states(dr)
    assert states[("log_raw", -1)] == "success"
    assert states[("summarize", -1)] == "success"
    assert states[("promote_ok", -1)] == "success"
    assert states[("promote_blocked", -1)] == "skipped"

    raw = registry.get("classic-raw:fresh")
    assert sorted(raw.manifest.entries) == ["raw.txt"]
    assert xcom(dr, "log_raw") == raw.ref
    summary = registry.get("classic-summary")
    assert summary.metadata["score"] == len("hello classic")
    assert summary.logged_by().task == "summarize"
    assert [v.ref for v in summary.logged_by().used_artifacts()] == [raw.ref]

    assert "production" in registry.get("classic-summary").aliases  # the gate passed
    with pytest.raises(LookupError):
        registry.get("classic-summary:gold")  # the gate blocked: nothing moved
    runs = {r.task: r for r in registry.runs(pipeline="af_classic", pipeline_run=dr.run_id)}
    assert runs["promote_ok"].state == "SUCCESS"
    assert runs["promote_blocked"].state == "SKIPPED"
    assert "does not pass threshold" in runs["promote_blocked"].error
    assert xcom(dr, "promote_ok")["promoted"] is True

    # the mixin on PythonOperator: inputs resolved (pinned), the draft logged with the run
    assert states[("stamp", -1)] == "success"
    stamp = registry.get("classic-stamp")
    assert stamp.logged_by().task == "stamp"
    assert [v.ref for v in stamp.logged_by().used_artifacts()] == [summary.ref]
    assert xcom(dr, "stamp") == summary.ref


def test_sensor_waits_for_an_alias_move_deferred_then_a_new_version(run_dag, registry):
    draft = Artifact("sensor-data")
    with draft.new_file("x.txt") as f:
        f.write("v0")
    registry.log(draft, aliases=["production"])

    def sensor_deferred() -> bool:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        # dag.test() runs the trigger inline with the task instance back in QUEUED, but the
        # deferral (the trigger row, next_method) stays on it
        with create_session() as session:
            ti = session.query(TaskInstance).filter_by(dag_id="af_sensor", task_id="wait_alias")
            return any(
                t.state == TaskInstanceState.DEFERRED
                or t.trigger_id is not None
                or t.next_method is not None
                for t in ti
            )

    def writer():
        # move the alias only once the sensor is deferred (it took its baseline then): on a
        # loaded machine a fixed sleep can move it first, and the sensor waits for a move that
        # already happened
        time.sleep(1.5)
        give_up = time.monotonic() + 120
        while not sensor_deferred() and time.monotonic() < give_up:
            time.sleep(0.2)
        reg = Registry()
        d = Artifact("sensor-data")
        with d.new_file("x.txt") as f:
            f.write("v1")
        reg.log(d, aliases=["production"])
        reg.close()

    t = threading.Thread(target=writer)
    t.start()
    started = time.monotonic()
    dr = run_dag("af_sensor")
    t.join()
    assert set(task_states(dr).values()) == {"success"}
    assert time.monotonic() - started >= 1.5
    assert xcom(dr, "wait_alias") == "default/sensor-data:v1"
    assert xcom(dr, "wait_new") == "default/sensor-data:v1"


def test_openlineage_datasets_carry_versions(registry):
    from artiflow.operators import lineage_datasets
    from artiflow.operators.lineage import _operator_lineage

    draft = Artifact("ol-data")
    with draft.new_file("x.txt") as f:
        f.write("x")
    v = registry.log(draft)
    data = lineage_datasets({"d": "ol-data"}, {"m": {"name": "team/ol-model"}}, {"d": v}, {})
    assert data["inputs"] == [
        {
            "namespace": "artiflow://airflow-tests/default",
            "name": "ol-data",
            "version": "v0",
            "digest": v.digest,
        }
    ]
    assert data["outputs"] == [{"namespace": "artiflow://airflow-tests/team", "name": "ol-model"}]
    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        # provider not installed: the operator methods return None instead of failing
        assert _operator_lineage(data) is None
    else:  # pragma: no cover - only with apache-airflow-providers-openlineage
        lineage = _operator_lineage(data)
        assert lineage.inputs[0].facets["version"].datasetVersion == "v0"


def test_provider_info_does_not_import_airflow():
    import subprocess
    import sys

    code = (
        "import sys, artiflow.provider_info as p; info = p.get_provider_info(); "
        "assert 'airflow' not in sys.modules, 'airflow imported'; print(info['package-name'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "artiflow"


def test_openlineage_provider_gets_versions_from_a_real_run(run_dag, registry):
    pytest.importorskip("airflow.providers.openlineage")
    import json
    import os
    from pathlib import Path

    config = json.loads(os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    log = Path(config["log_file_path"])
    start = log.stat().st_size if log.exists() else 0
    dr = run_dag("af_provider")
    assert set(task_states(dr).values()) == {"success"}
    text = log.read_text()[start:]
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    complete = [
        e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == "af_provider.make"
    ]
    (event,) = complete
    (out,) = event["outputs"]
    version = registry.get("provider-data")
    assert (out["namespace"], out["name"]) == ("artiflow://airflow-tests/default", "provider-data")
    assert out["facets"]["version"]["datasetVersion"] == version.version
