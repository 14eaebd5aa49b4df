"""Runs: what they used and logged, failures, same-run pinning (artiflow.runs, artiflow._ops.runs).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

import pytest
from drafts import draft

from artiflow import InvalidRefError


def test_runs_and_lineage(registry):
    with registry.run("ingest", pipeline="nightly", pipeline_run="r1", task="ingest") as ingest:
        raw = ingest.log(draft("raw", files={"r": "raw"}))
    with registry.run("clean", pipeline="nightly", pipeline_run="r1", task="clean") as clean:
        used = clean.use("raw:latest")
        ds = clean.log(draft("bike-dataset", files={"c": "clean"}))
    with registry.run(
        "train", orchestrator="airflow", pipeline="train", pipeline_run="t1", task="fit"
    ) as train:
        train.use(ds)
        model = train.log(
            draft("churn-model", type="model", files={"m": "w"}), aliases=["candidate"]
        )
    assert used == raw
    assert model.logged_by() == train and train.state == "SUCCESS"
    assert [r.name for r in ds.used_by()] == ["train"]
    assert train.used_artifacts() == [ds] and train.logged_artifacts() == [model]
    up = registry.lineage("churn-model:candidate")
    refs = sorted(n["ref"] for n in up.versions())
    assert refs == ["default/bike-dataset:v0", "default/churn-model:v0", "default/raw:v0"]
    assert sorted(n["name"] for n in up.runs()) == ["clean", "ingest", "train"]
    one = registry.lineage("churn-model:candidate", depth=1)
    assert sorted(n["ref"] for n in one.versions()) == [
        "default/bike-dataset:v0",
        "default/churn-model:v0",
    ]
    down = registry.lineage("raw:v0", direction="downstream")
    assert "default/churn-model:v0" in {n["ref"] for n in down.versions()}
    both = registry.lineage("bike-dataset:v0", direction="both")
    assert len(both.versions()) == 3
    mermaid = up.to_mermaid()
    assert mermaid.startswith("graph LR") and "default/raw:v0" in mermaid and "-->|used|" in mermaid
    assert up.to_dot().startswith("digraph lineage {")
    data = up.to_dict()
    assert {e["kind"] for e in data["edges"]} == {"used", "logged"}
    events = up.to_openlineage()
    train_event = next(e for e in events if e["job"]["name"] == "train.fit")
    assert train_event["eventType"] == "COMPLETE"
    assert train_event["inputs"][0]["name"] == "bike-dataset"
    assert train_event["outputs"][0]["facets"]["version"]["datasetVersion"] == "v0"
    with pytest.raises(InvalidRefError):
        registry.lineage("raw", direction="sideways")


def test_failed_run_is_recorded_and_commits_nothing_it_did_not_log(registry):
    with pytest.raises(RuntimeError), registry.run("train") as run:
        run.use(registry.log(draft()))
        raise RuntimeError("boom")
    run_again = registry.get_run(run.id)
    assert run_again.state == "FAILED" and "boom" in run_again.error
    assert run_again.logged_artifacts() == []


def test_same_run_pinning_primitive(registry):
    with registry.run(
        "prep", orchestrator="airflow", pipeline="dag", pipeline_run="run-a", task="prep"
    ) as r:
        mine = r.log(draft(files={"a": "mine"}))
    # a concurrent run logs a newer version meanwhile
    with registry.run(
        "prep", orchestrator="airflow", pipeline="dag", pipeline_run="run-b", task="prep"
    ) as r:
        r.log(draft(files={"a": "theirs"}))
    assert registry.get("ds").version == "v1"
    pinned = registry.produced_in(
        "ds", orchestrator="airflow", pipeline_run="run-a", tasks=["prep"]
    )
    assert pinned == mine
    assert (
        registry.produced_in("ds", orchestrator="airflow", pipeline_run="run-a", tasks=["other"])
        is None
    )
    assert registry.produced_in("ds", orchestrator="prefect", pipeline_run="run-a") is None
