"""Recipe: promoting a dataset alias schedules a run of the retraining deployment.

``promote("bike-dataset:v3", "production")`` (or the ``promote_dataset`` step of
``prepare_dataset``) emits::

    event    artiflow.alias.moved
    resource {"prefect.resource.id": "artiflow://<registry>/default/bike-dataset",
              "artiflow.registry": "<registry>", "artiflow.alias": "production", ...}
    payload  {"ref": "default/bike-dataset:v3", "version": "v3", "digest": ..., ...}

(``<registry>`` is the registry identity, ``ARTIFLOW_REGISTRY_NAME``: set it to the same value
where the deployment is created and where the flows run.) The deployment below carries a
``DeploymentEventTrigger`` matching that resource and its labels, so another registry's
promotion on the same Prefect server never starts it; the
Prefect server's automation service then creates a flow run of ``retrain-bike-model`` whose
``artiflow`` parameter carries the event (registry identity, exact version, event id): every
artifact task of that run reads ``bike-dataset`` as exactly the promoted version (trigger
pinning), and a run whose event came from another registry is refused. Run it for real with::

    prefect server start                       # or Prefect Cloud
    python -m flows.deployments                # serves the deployment (polls for its runs)
    python -m flows.prepare_dataset            # promotes a new version -> a retraining run

Example:
    >>> from flows.deployments import retraining_trigger
    >>> retraining_trigger().match.model_dump()["artiflow.alias"]
    'production'
"""

from __future__ import annotations

from typing import Any

from prefect.events import DeploymentEventTrigger

from artiflow.prefect import alias_moved_trigger
from flows.retrain import retrain

DEPLOYMENT_NAME = "retrain-on-dataset-promotion"


def retraining_trigger(
    dataset: str = "bike-dataset",
    alias: str = "production",
    project: str = "default",
    registry: Any = None,
) -> DeploymentEventTrigger:
    """Fire when ``alias`` moves on ``dataset``; train on exactly the promoted version.

    Example:
        >>> retraining_trigger().parameters["artiflow"]["ref"]
        '{{ event.payload.ref }}'
    """
    return alias_moved_trigger(
        dataset,
        alias,
        project=project,
        pin=True,
        trigger_name=f"retrain-when-{dataset}-moves-to-{alias}",
        registry=registry,
    )


def retraining_deployment(**trigger_args: Any) -> Any:
    """The retraining flow as a deployment with the promotion trigger (call ``.apply()``).

    Example:
        >>> d = retraining_deployment()
        >>> d.name, len(d.triggers)
        ('retrain-on-dataset-promotion', 1)
    """
    return retrain.to_deployment(
        name=DEPLOYMENT_NAME, triggers=[retraining_trigger(**trigger_args)]
    )


if __name__ == "__main__":
    from prefect import serve

    serve(retraining_deployment())
