"""Runs as people know them (issue 13, item 7, core part): one label built from the run's fields,
used by lineage (every format), ``Run.to_dict`` and ``show``; a re-log that de-duplicated to an
existing version records that run as a producer too, and it appears the same everywhere."""

from __future__ import annotations

import json

from drafts import draft

from artiflow import RunState
from artiflow.cli import main


def _airflow_run(registry, run_id="manual__2026-01-01", try_number=2, map_index=3):
    return registry.run(
        "fit",
        orchestrator="airflow",
        pipeline="nightly",
        pipeline_run=run_id,
        task="fit",
        try_number=try_number,
        map_index=map_index,
    )


def test_label_names_the_pipeline_run_try_and_map_index(registry):
    run = _airflow_run(registry)
    assert run.label == "airflow: nightly.fit [run manual__2026-01-01, try 2, map 3]"
    assert _airflow_run(registry, try_number=None, map_index=-1).label == (
        "airflow: nightly.fit [run manual__2026-01-01]"
    )
    assert registry.run("train").label == "manual: train"
    assert registry.run("train", pipeline="adhoc").label == "manual: adhoc.train"
    assert run.to_dict()["label"] == run.label
    assert run.label in repr(run)


def test_lineage_nodes_mermaid_and_dot_use_the_label(registry):
    with _airflow_run(registry) as run:
        v = run.log(draft())
    graph = registry.lineage(v)
    [node] = graph.runs()
    assert node["label"] == run.label and node["run_id"] == run.id
    assert run.label in graph.to_mermaid()
    assert run.label in graph.to_dot()
    assert json.loads(graph.to_json())["nodes"][1]["label"] == run.label


def test_a_deduplicated_relog_is_a_producer_everywhere(registry, capsys):
    with _airflow_run(registry, "scheduled__1", 1, None) as first:
        v0 = first.log(draft())
    with _airflow_run(registry, "scheduled__2", 1, None) as again:
        same = again.log(draft())  # same content as latest: no new version
    assert same == v0 and same.version == "v0"
    producers = v0.logged_by_all()
    assert producers == [first, again]
    assert v0.logged_by() == first
    assert [r.label for r in producers] == [
        "airflow: nightly.fit [run scheduled__1, try 1]",
        "airflow: nightly.fit [run scheduled__2, try 1]",
    ]
    assert all(r.state == RunState.SUCCESS for r in producers)
    # lineage shows the same two producers with the same labels
    graph = registry.lineage(v0)
    logged = {s for s, _, k in graph.edges if k == "logged"}
    assert logged == {f"run:{first.id}", f"run:{again.id}"}
    assert sorted(n["label"] for n in graph.runs()) == [r.label for r in producers]
    # and so does `artiflow show` (text and JSON)
    capsys.readouterr()
    assert main(["--home", str(registry.settings.home), "show", "ds:v0"]) == 0
    out = capsys.readouterr().out
    assert all(r.label in out for r in producers)
    assert main(["--home", str(registry.settings.home), "show", "ds:v0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in data["logged_by_all"]] == [r.label for r in producers]
    assert data["logged_by"]["id"] == first.id


def test_the_states_are_str_enums_with_the_stored_values(registry):
    from artiflow import VersionState
    from artiflow.runs import FAILED, RUNNING, SUCCESS

    assert (RUNNING, SUCCESS, FAILED) == (RunState.RUNNING, RunState.SUCCESS, RunState.FAILED)
    run = registry.run("train")
    assert run.state == RunState.RUNNING
    run.finish(RunState.FAILED, "boom")
    assert registry.get_run(run.id).state == "FAILED"
    assert registry.log(draft()).state == VersionState.COMMITTED
