"""What a Prefect flow run means for the task runtime: its lock, trigger pins, replay, host.

The task adapter (:mod:`artiflow.prefect.tasks`) asks this module for the fields of
:class:`~artiflow._tasking.TaskContext` that depend on the flow run rather than on the task:

* **lock_parent** — a subflow shares the run lock of its ROOT flow run. The root is found by
  walking ``flow_run.parent_task_run_id`` -> that task run's flow run -> ... with the Prefect
  client (one or two API calls per subflow run, cached per process);
* **trigger_pins** and **replay_of** — read from the root flow run's ``artiflow`` parameter
  (:data:`ARTIFLOW_PARAMETER`). A deployment trigger made with ``pin=True``
  (:func:`~artiflow.prefect.alias_moved_trigger`) fills it from the triggering event::

      {"registry": "<identity>", "ref": "default/bike-dataset:v3", "event_id": "...",
       "event": "artiflow.alias.moved"}

  and :func:`~artiflow.prefect.replay` fills it with ``{"replay_of": "<flow run id>",
  "flow": "<flow name>"}``. A flow that can be triggered or replayed declares the parameter:
  ``def retrain(..., artiflow: dict | None = None)``. A trigger event of ANOTHER registry is
  refused (:class:`ForeignTriggerError`): the run would otherwise read this registry's versions
  for another registry's event;
* **host** — the Prefect worker that runs the flow run (``PREFECT__WORKER_NAME``, set by
  workers), else the machine's hostname; **run_name** — ``<flow run name>/<task run name>``
  (``#try`` from the second try on).

Example:
    >>> trigger_pins_from({"registry": "prod", "ref": "default/ds:v3"}, registry="prod")
    {'default/ds': 'default/ds:v3'}
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from artiflow._tasking import PipelineRun
from artiflow.exceptions import ArtiflowError
from artiflow.identity import registry_identity
from artiflow.refs import parse_ref

__all__ = [
    "ARTIFLOW_PARAMETER",
    "ORCHESTRATOR",
    "FlowRunScope",
    "ForeignTriggerError",
    "flow_run_scope",
    "replay_of_from",
    "run_host",
    "trigger_pins_from",
]

log = logging.getLogger(__name__)

ORCHESTRATOR = "prefect"
#: the flow parameter that carries the trigger event's version and the replayed run
ARTIFLOW_PARAMETER = "artiflow"


class ForeignTriggerError(ArtiflowError):
    """A flow run was started by an event of another registry than the one its tasks use."""


@dataclass(frozen=True)
class FlowRunScope:
    """The lock-relevant facts of one flow run (its root, and the root's artiflow parameter).

    ``root`` is None for a root flow run (its own lock); ``parameter`` is the root flow run's
    ``artiflow`` parameter (empty when not set).
    """

    root: PipelineRun | None = None
    parameter: Mapping[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_scopes: dict[str, FlowRunScope] = {}
_MAX_SCOPES = 1024


def _parameter_of(parameters: Any) -> dict[str, Any]:
    value = (parameters or {}).get(ARTIFLOW_PARAMETER) if isinstance(parameters, Mapping) else None
    return dict(value) if isinstance(value, Mapping) else {}


def _walk_to_root(flow_run: Any) -> FlowRunScope:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        current = flow_run
        hops = 0
        while current.parent_task_run_id is not None:
            parent_task = client.read_task_run(current.parent_task_run_id)
            if parent_task.flow_run_id is None:
                break
            cached = _scopes.get(str(parent_task.flow_run_id))
            if cached is not None and cached.root is not None:
                return cached  # the parent is a subflow whose root we already know
            current = client.read_flow_run(parent_task.flow_run_id)
            hops += 1
            if hops > 64:  # pragma: no cover - a cycle would be a Prefect bug
                raise ArtiflowError(f"flow run {flow_run.id}: more than 64 parent flow runs")
        if current.id == flow_run.id:
            return FlowRunScope(None, _parameter_of(flow_run.parameters))
        flow = client.read_flow(current.flow_id)
        root = PipelineRun(ORCHESTRATOR, flow.name, str(current.id))
        return FlowRunScope(root, _parameter_of(current.parameters))


def flow_run_scope(flow_run: Any, parameters: Mapping[str, Any] | None = None) -> FlowRunScope:
    """The :class:`FlowRunScope` of ``flow_run`` (a Prefect ``FlowRun``), cached per process.

    ``parameters`` are the flow run's own parameters (``FlowRunContext.parameters``) when the
    caller has them; a root flow run needs no API call then.

    Example:
        >>> flow_run_scope(None)
        FlowRunScope(root=None, parameter={})
    """
    if flow_run is None:
        return FlowRunScope()
    if getattr(flow_run, "parent_task_run_id", None) is None:
        return FlowRunScope(None, _parameter_of(parameters or flow_run.parameters))
    key = str(flow_run.id)
    scope = _scopes.get(key)
    if scope is None:
        scope = _walk_to_root(flow_run)
        with _lock:
            _scopes[key] = scope
            while len(_scopes) > _MAX_SCOPES:
                _scopes.pop(next(iter(_scopes)))
    return scope


def trigger_pins_from(parameter: Mapping[str, Any], *, registry: Any) -> dict[str, str]:
    """The trigger pins ``{"project/name": "project/name:vN"}`` an ``artiflow`` parameter
    carries, after checking the event came from ``registry`` (a Registry or its identity).

    Raises :class:`ForeignTriggerError` for another registry's event.

    Example:
        >>> trigger_pins_from({}, registry="prod")
        {}
        >>> trigger_pins_from({"registry": "other", "ref": "default/ds:v1"}, registry="prod")
        Traceback (most recent call last):
        ...
        artiflow.prefect.runs.ForeignTriggerError: ...
    """
    ref = parameter.get("ref")
    pins = dict(parameter.get("pins") or {})
    if not ref and not pins:
        return {}
    source = parameter.get("registry")
    own = registry_identity(registry)
    if source != own:
        raise ForeignTriggerError(
            f"this flow run was started by an event of registry {source!r} "
            f"(event {parameter.get('event_id') or '?'}), but its tasks use registry {own!r}; "
            "refusing to read this registry's versions for another registry's event. Make the "
            "deployment trigger with registry=<this registry> (alias_moved_trigger(..., "
            "registry=...)) or set ARTIFLOW_REGISTRY_NAME the same where the flow runs"
        )
    out: dict[str, str] = {}
    for value in [ref, *pins.values()]:
        if not value:
            continue
        r = parse_ref(str(value))
        out[f"{r.project}/{r.name}"] = str(r)
    return out


def replay_of_from(parameter: Mapping[str, Any], flow_name: str | None) -> PipelineRun | None:
    """The pipeline run an ``artiflow`` parameter replays (``{"replay_of": id, "flow": name}``).

    Example:
        >>> replay_of_from({"replay_of": "abc", "flow": "etl"}, None)
        PipelineRun(orchestrator='prefect', pipeline='etl', pipeline_run='abc')
        >>> replay_of_from({}, "etl") is None
        True
    """
    original = parameter.get("replay_of")
    if not original:
        return None
    return PipelineRun(ORCHESTRATOR, parameter.get("flow") or flow_name, str(original))


def run_host() -> str:
    """The host a registry run records: the Prefect worker's name when a worker started this
    process (``PREFECT__WORKER_NAME``), else the machine's hostname.

    Example:
        >>> isinstance(run_host(), str)
        True
    """
    return os.environ.get("PREFECT__WORKER_NAME") or socket.gethostname()
