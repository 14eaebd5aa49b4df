"""``replay(flow_run_id)``: run a flow run's deployment again, reading what that run read.

The new flow run gets the original's parameters plus ``artiflow={"replay_of": <id>, "flow":
<flow name>}`` (:data:`~artiflow.prefect.runs.ARTIFLOW_PARAMETER`) and the tag
``artiflow-replay``; its artifact tasks set ``TaskContext.replay_of`` from it, so every input
resolves from the original run's lock, however aliases moved and newer versions appeared since
(see :mod:`artiflow._tasking.resolver`), and each output's digest is compared with the
original's (``reproduced``). The flow must declare the parameter (``artiflow: dict | None =
None``) and the original must be a root flow run of a deployment.

``lock=`` replays a *derived* lock of the flow run instead (``artiflow replay RUN --input
raw=raw:v5`` makes one: the original's lock with replaced inputs, see
:mod:`artiflow._ops.replay`): the new flow run of the same deployment reads that lock.

Example:
    >>> replay_parameters({"dataset_ref": "ds:v1"}, "0b7c", "retrain")["artiflow"]
    {'replay_of': '0b7c', 'flow': 'retrain'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from artiflow.exceptions import ArtiflowError

from .runs import ARTIFLOW_PARAMETER

__all__ = ["REPLAY_TAG", "ReplayError", "replay", "replay_parameters"]

#: the tag of every flow run started by :func:`replay`
REPLAY_TAG = "artiflow-replay"


class ReplayError(ArtiflowError):
    """The flow run cannot be replayed (no deployment, a subflow, no ``artiflow`` parameter)."""


def replay_parameters(
    parameters: Mapping[str, Any] | None, flow_run_id: str, flow_name: str
) -> dict[str, Any]:
    """The parameters of the replay of a flow run that had ``parameters``.

    The original's trigger information is dropped: the replay reads the original's lock.

    Example:
        >>> replay_parameters({"artiflow": {"ref": "ds:v1"}}, "r1", "f")
        {'artiflow': {'replay_of': 'r1', 'flow': 'f'}}
    """
    out = dict(parameters or {})
    out[ARTIFLOW_PARAMETER] = {"replay_of": str(flow_run_id), "flow": flow_name}
    return out


def replay(
    flow_run_id: str | UUID,
    *,
    tags: Iterable[str] = (),
    timeout: float | None = 0,
    lock: str | None = None,
) -> Any:
    """Start a new flow run of ``flow_run_id``'s deployment that replays it; returns the new
    ``FlowRun`` (``timeout=0``: at once; ``None``: when it finished). ``lock`` names a derived
    lock of the flow run (``<id>~r<hash>``, what ``artiflow replay --input`` prints) to read
    instead of the run's own.

    Example:
        >>> from artiflow.prefect import replay
        >>> new = replay("0b7c6a2e-...")          # doctest: +SKIP
        >>> new.parameters["artiflow"]            # doctest: +SKIP
        {'replay_of': '0b7c6a2e-...', 'flow': 'retrain-bike-model'}
    """
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    ident = UUID(str(flow_run_id))
    if lock is not None and not str(lock).startswith(f"{ident}~"):
        raise ReplayError(
            f"lock {lock!r} is not a derived lock of flow run {ident} (those are named "
            f"'{ident}~r<hash>': use the one `artiflow replay {ident} --input ...` printed)"
        )
    with get_client(sync_client=True) as client:
        original = client.read_flow_run(ident)
        if original.parent_task_run_id is not None:
            raise ReplayError(
                f"flow run {ident} is a subflow: replay its root flow run (subflows share its "
                "lock and are replayed with it)"
            )
        if original.deployment_id is None:
            raise ReplayError(
                f"flow run {ident} did not run from a deployment: replay needs one to start a "
                "new flow run; call the flow with artiflow={'replay_of': "
                f"'{ident}', 'flow': <flow name>}} yourself"
            )
        deployment = client.read_deployment(original.deployment_id)
        flow = client.read_flow(original.flow_id)
    schema = deployment.parameter_openapi_schema or {}
    declared = (schema.get("properties") or {}) if isinstance(schema, Mapping) else {}
    if declared and ARTIFLOW_PARAMETER not in declared:
        raise ReplayError(
            f"flow {flow.name!r} has no {ARTIFLOW_PARAMETER!r} parameter: add "
            f"`{ARTIFLOW_PARAMETER}: dict | None = None` to its signature so a replay can tell "
            "its tasks which run to replay, then re-deploy it"
        )
    return run_deployment(
        deployment.id,
        parameters=replay_parameters(original.parameters, str(lock or ident), flow.name),
        tags=[*tags, REPLAY_TAG],
        timeout=timeout,
        as_subflow=False,
    )
