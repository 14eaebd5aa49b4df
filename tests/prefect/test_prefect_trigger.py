"""The recipe: promoting a dataset alias schedules a run of the retraining deployment.

Runs against the session's Prefect test server, whose automation services (ReactiveTriggers,
Actions) do run in an ephemeral server: the event -> automation -> RunDeployment path is the
real one. Only the worker is replaced: the scheduled flow run is executed in-process with
``run_flow`` instead of by ``serve()``/a worker polling for it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest


@pytest.fixture
def retraining_deployment(prefect_server: str) -> Any:
    from prefect.client.orchestration import get_client

    from flows.deployments import retraining_deployment

    deployment_id = retraining_deployment().apply()
    yield deployment_id
    with get_client(sync_client=True) as client:  # later tests must not trigger it
        client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
        client.delete_deployment(deployment_id)


def _wait_for_runs(deployment_id: Any, timeout: float = 30.0) -> tuple[list[Any], float]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    start = time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            if runs or time.monotonic() - start > timeout:
                return runs, time.monotonic() - start
            time.sleep(0.1)


def test_trigger_spec() -> None:
    from artiflow.identity import default_identity
    from flows.deployments import retraining_deployment

    trigger = retraining_deployment().triggers[0]
    assert trigger.expect == {"artiflow.alias.moved"}
    ident = default_identity()
    assert trigger.match.model_dump() == {
        "prefect.resource.id": f"artiflow://{ident}/default/bike-dataset",
        "artiflow.registry": ident,
        "artiflow.alias": "production",
    }
    # the event itself goes into the flow's `artiflow` parameter: trigger pinning
    assert trigger.parameters == {
        "artiflow": {
            "registry": "{{ event.payload.registry }}",
            "ref": "{{ event.payload.ref }}",
            "event_id": "{{ event.id | string }}",
            "event": "{{ event.event }}",
        }
    }


def test_promotion_schedules_retraining(
    registry: Any, retraining_deployment: Any, events: Any, now: Any
) -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.flow_engine import run_flow

    from artiflow.identity import registry_identity
    from flows.prepare_dataset import prepare_dataset
    from flows.retrain import retrain

    # a version that is NOT promoted does not trigger anything
    prepare_dataset(rows=40, seed=1, promote_to=None)
    ref = prepare_dataset(rows=60, seed=2)  # promotes v1 to production
    assert ref == "default/bike-dataset:v1"

    moved = events(
        "artiflow.alias.moved",
        since=now,
        expect=1,
        where=lambda e: e.resource.get("artiflow.alias") == "production",
    )
    assert [e.payload["ref"] for e in moved] == [ref]
    assert moved[0].resource["artiflow.alias"] == "production"

    runs, waited = _wait_for_runs(retraining_deployment)
    assert len(runs) == 1, f"no retraining run scheduled after {waited:.1f}s"
    scheduled = runs[0]
    assert scheduled.state.type == StateType.SCHEDULED
    pinned = scheduled.parameters["artiflow"]
    assert pinned["ref"] == ref and pinned["registry"] == registry_identity(registry)
    assert pinned["event_id"] == str(moved[0].id)
    # the alias moves on before the run starts: the run still reads the event's version
    newer = prepare_dataset(rows=70, seed=3)
    assert registry.get("bike-dataset:production").ref == newer != ref

    # what a worker would do: execute the scheduled run
    report = run_flow(retrain, flow_run=scheduled, parameters=scheduled.parameters)
    assert report["promoted"] is True
    model = registry.get("bike-model:production")
    assert model.ref == report["model"]
    trainer = model.logged_by()
    assert trainer.pipeline == "retrain-bike-model"
    assert trainer.pipeline_run == str(scheduled.id)
    assert [v.ref for v in trainer.used_artifacts()] == [ref]
    evaluator = next(r for r in model.used_by() if r.task == "evaluate")
    assert ref in [v.ref for v in evaluator.used_artifacts()]
    assert trainer.info["trigger_pins"] == {"default/bike-dataset": ref}
