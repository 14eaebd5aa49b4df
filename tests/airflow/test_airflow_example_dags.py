"""The example DAGs in dags/: zero import errors, and the demo chain end to end."""

from __future__ import annotations

import pytest
from airflow_helpers import EXAMPLE_DAG_FILES, dags_folder, task_states

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.mark.parametrize("path", EXAMPLE_DAG_FILES, ids=lambda p: p.name)
def test_every_example_dag_file_imports_cleanly(path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(dags_folder() / path.name))
    assert bag.import_errors == {}
    assert bag.dags, f"{path.name} defines no DAG"


def test_the_whole_dags_folder_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"bike_dataset_nightly", "bike_model_retrain", "bike_model_deploy"} <= set(dagbag.dags)


def test_nightly_build_then_asset_scheduled_retraining(run_dag, registry):
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import select

    nightly = run_dag("bike_dataset_nightly")
    assert set(task_states(nightly).values()) == {"success"}
    dataset = registry.get("bike-training-set")
    producer = dataset.logged_by()
    assert (producer.pipeline, producer.task) == ("bike_dataset_nightly", "build_dataset")
    assert producer.pipeline_run == nightly.run_id
    stats = registry.get("bike-station-stats")
    assert sorted(stats.manifest.entries) == [
        f"{s}.json" for s in sorted(["north", "south", "east", "west"])
    ]
    assert dataset.metadata["stations"] == ["east", "north", "south", "west"]

    with create_session() as session:
        queued = session.scalars(select(AssetDagRunQueue.target_dag_id)).all()
    assert "bike_model_retrain" in queued  # the new dataset version scheduled the retraining

    retrain = run_dag("bike_model_retrain")
    assert set(task_states(retrain).values()) == {"success"}
    model = registry.get("bike-demand-model:production")
    assert model.metadata["trained_on"] == dataset.ref
    assert model.metadata["r2"] >= 0.5
    assert {"candidate", "production", "latest"} <= set(model.aliases)
    evaluator = registry.get("bike-demand-eval").logged_by()
    assert sorted(v.ref for v in evaluator.used_artifacts()) == sorted([model.ref, dataset.ref])

    with create_session() as session:
        queued = session.scalars(select(AssetDagRunQueue.target_dag_id)).all()
    assert "bike_model_deploy" in queued  # the promotion scheduled the deployment

    deploy = run_dag("bike_model_deploy")
    assert set(task_states(deploy).values()) == {"success"}

    graph = registry.lineage(model.ref, direction="upstream")
    refs = {n.get("ref") for n in graph.versions()}
    assert {dataset.ref, registry.get("bike-rides").ref, stats.ref} <= refs
    mermaid = graph.to_mermaid()
    assert "bike_model_retrain.train" in mermaid and "bike_dataset_nightly.build_dataset" in mermaid
