"""A Prefect flow produces a dataset version; an Airflow DAG consumes it from the same registry.

Airflow runs in a subprocess (``dag.test()`` with a throwaway ``AIRFLOW_HOME``): Airflow and
Prefect both configure logging and settings at import time and do not share one process well.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("airflow")


def test_prefect_dataset_airflow_model_lineage(registry: Any, capsys: Any) -> None:
    from artiflow.cli import main
    from examples.prefect_demo import cross_orchestrator_lineage, describe_runs

    graph = cross_orchestrator_lineage(registry)

    model = registry.get("airflow-bike-model:latest")
    dataset = registry.get("bike-dataset:production")
    trainer = model.logged_by()
    assert trainer.orchestrator == "airflow"
    assert trainer.pipeline == "from_prefect_dataset"
    assert [v.ref for v in trainer.used_artifacts()] == [dataset.ref]
    assert model.metadata["trained_on"] == dataset.ref
    producer = dataset.logged_by()
    assert producer.orchestrator == "prefect"
    assert producer.pipeline == "prepare-bike-dataset" and producer.task == "generate"

    runs = graph.runs()
    assert {n["orchestrator"] for n in runs} == {"airflow", "prefect"}
    lines = describe_runs(graph)
    assert any(line.startswith("airflow: from_prefect_dataset") for line in lines)
    assert any(line.startswith("prefect: prepare-bike-dataset / generate") for line in lines)
    mermaid = graph.to_mermaid()
    assert dataset.version in mermaid

    # `artiflow lineage` on the model shows both runs
    capsys.readouterr()
    assert main(["lineage", "airflow-bike-model:latest"]) == 0
    out = capsys.readouterr().out
    assert "airflow: from_prefect_dataset.train_on_prefect_dataset" in out
    assert "prefect: prepare-bike-dataset.generate" in out
