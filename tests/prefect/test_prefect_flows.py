"""The example flows in flows/ run end to end against a fresh registry."""

from __future__ import annotations

from typing import Any


def test_prepare_then_retrain(registry: Any) -> None:
    from flows.prepare_dataset import prepare_dataset
    from flows.retrain import retrain

    ref = prepare_dataset(rows=80, seed=4)
    dataset = registry.get("bike-dataset:production")
    assert dataset.ref == ref
    assert dataset.metadata.get("rows") == 80
    validator = [r for r in dataset.used_by() if r.task == "validate"]
    assert validator and validator[0].pipeline_run == dataset.logged_by().pipeline_run

    report = retrain()
    model = registry.get("bike-model:latest")
    assert report["model"] == model.ref and report["promoted"] is True
    assert {"candidate", "production"} <= set(model.aliases)
    trainer = model.logged_by()
    evaluator = [r for r in model.used_by() if r.task == "evaluate"]
    assert evaluator and evaluator[0].pipeline_run == trainer.pipeline_run
    graph = registry.lineage("bike-model:production", direction="upstream")
    assert {n["task"] for n in graph.runs()} == {"train", "generate"}


def test_failed_validation_promotes_nothing(registry: Any) -> None:
    from flows.prepare_dataset import prepare_dataset

    state = prepare_dataset(rows=3, seed=0, return_state=True)
    assert state.is_failed()
    version = registry.get("bike-dataset:latest")  # logged by generate, which succeeded
    assert "production" not in version.aliases
    assert [r.state for r in version.used_by()] == ["FAILED"]


def test_demo_replay_trains_on_what_the_original_read(registry: Any) -> None:
    from examples.prefect_demo import replay_demo
    from flows.prepare_dataset import prepare_dataset

    prepare_dataset(rows=60, seed=5)
    result = replay_demo(registry)
    assert result["original"] == result["replayed"] == "default/bike-dataset:v0"
    assert result["production"] == "default/bike-dataset:v1"
    assert result["reproduced"] == {"default/bike-model": True}
