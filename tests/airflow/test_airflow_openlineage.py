"""OpenLineage: ``LineageGraph.to_openlineage()`` built with the typed client (spec-exact schema
URLs, the custom ``artiflow`` facet), and jobs that join the Airflow provider's events for the
same task (namespace and ``dag_id.task_id``). The provider is installed in dev: nothing here
skips."""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow_helpers import task_states


def _provider_events(start: int) -> list[dict]:
    log = Path(json.loads(os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"])["log_file_path"])
    text = log.read_text()[start:]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _log_size() -> int:
    log = Path(json.loads(os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"])["log_file_path"])
    return log.stat().st_size if log.exists() else 0


def test_events_use_the_typed_client_and_spec_exact_urls(registry):
    from openlineage.client.event_v2 import RunEvent
    from openlineage.client.facet_v2 import dataset_version_dataset

    from artiflow import Artifact
    from artiflow.openlineage import ARTIFLOW_FACET_SCHEMA_URL, run_events, typed_client_available

    assert typed_client_available()
    raw = Artifact("ol-raw")
    with raw.new_file("r.txt") as f:
        f.write("r")
    raw_v = registry.log(raw)
    with registry.run("fit", orchestrator="airflow", pipeline="ol_dag", task="fit") as run:
        run.use(raw_v)
        model = Artifact("ol-model", type="model")
        with model.new_file("m.txt") as f:
            f.write("m")
        model_v = run.log(model)
    graph = registry.lineage(model_v.ref)
    (event,) = [e for e in graph.to_openlineage() if e["job"]["name"] == "ol_dag.fit"]
    assert event["schemaURL"] == RunEvent._get_schema()
    assert event["schemaURL"].endswith("OpenLineage.json#/$defs/RunEvent")
    assert event["eventType"] == "COMPLETE"
    # the job joins the Airflow provider's: its namespace and dag_id.task_id
    assert event["job"]["namespace"] == os.environ["AIRFLOW__OPENLINEAGE__NAMESPACE"]
    (inp,) = event["inputs"]
    (out,) = event["outputs"]
    assert (inp["namespace"], inp["name"]) == ("artiflow://airflow-tests/default", "ol-raw")
    version = out["facets"]["version"]
    assert version["_schemaURL"] == dataset_version_dataset.DatasetVersionDatasetFacet._get_schema()
    assert version["_schemaURL"].endswith("#/$defs/DatasetVersionDatasetFacet")
    assert version["datasetVersion"] == model_v.version
    custom = out["facets"]["artiflow"]
    assert custom["_schemaURL"] == ARTIFLOW_FACET_SCHEMA_URL
    assert custom["_schemaURL"].endswith("#/$defs/ArtiflowDatasetFacet")
    assert (custom["digest"], custom["ref"]) == (model_v.digest, model_v.ref)
    assert custom["registry"] == "airflow-tests"
    assert custom["_producer"] == event["producer"]
    # the hand-written fallback (no client installed) writes the very same JSON
    assert run_events(graph, typed=False) == run_events(graph, typed=True)
    # other orchestrators keep artiflow's namespace
    with registry.run("etl", orchestrator="prefect", pipeline="flow", task="load") as run:
        run.use(raw_v)
    events = registry.lineage(raw_v.ref, direction="downstream").to_openlineage()
    assert ("artiflow://prefect", "flow.load") in {
        (e["job"]["namespace"], e["job"]["name"]) for e in events
    }


def test_jobs_and_datasets_join_the_airflow_providers_events(run_dag, registry):
    start = _log_size()
    dr = run_dag("af_provider")
    assert set(task_states(dr).values()) == {"success"}
    provider = [e for e in _provider_events(start) if e["eventType"] == "COMPLETE"]
    ours = registry.lineage("provider-data", direction="both").to_openlineage()
    for task in ("make", "read"):
        (theirs,) = [e for e in provider if e["job"]["name"] == f"af_provider.{task}"]
        mine = [
            e
            for e in ours
            if (e["job"]["namespace"], e["job"]["name"])
            == (theirs["job"]["namespace"], theirs["job"]["name"])
        ]
        assert mine, (task, theirs["job"], [e["job"] for e in ours])
        # the same datasets (namespace, name) on both sides
        side = "outputs" if task == "make" else "inputs"
        assert {(d["namespace"], d["name"]) for d in theirs[side]} == {
            (d["namespace"], d["name"]) for d in mine[-1][side]
        }
        # the provider's dataset carries artiflow's custom facet with the exact digest
        (ds,) = theirs[side]
        version = registry.get(f"provider-data:{ds['facets']['version']['datasetVersion']}")
        assert ds["facets"]["artiflow"]["digest"] == version.digest
        assert ds["facets"]["artiflow"]["registry"] == "airflow-tests"
        assert ds["facets"]["artiflow"]["_schemaURL"].endswith("#/$defs/ArtiflowDatasetFacet")
