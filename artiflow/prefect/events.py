"""Turn registry events into Prefect events, and the triggers that react to them.

Every committed version emits ``artiflow.version.created`` and every alias move emits
``artiflow.alias.moved``. The resource is the collection::

    {"prefect.resource.id": "artiflow.artifact.<project>.<name>",
     "prefect.resource.name": "<project>/<name>",
     "artiflow.project": "<project>", "artiflow.name": "<name>",
     "artiflow.alias": "<alias>"}          # alias moves only

and the payload carries ``ref``, ``version``, ``index``, ``digest``, ``aliases``, ``run_id`` (the
registry run, when one made the change) and, for alias moves, ``alias`` and ``previous``. An
alias removed from every version emits ``artiflow.alias.removed`` instead. Because the alias
is also a resource *label*, a :class:`~prefect.events.DeploymentEventTrigger` can match
"bike-dataset moved to production" without looking into the payload
(see :func:`alias_moved_trigger`).

Artifact tasks forward events on their own; code that changes the registry outside an artifact
task (a promotion step, a notebook) wraps it in :func:`forward_events`, or calls :func:`promote`.

Example:
    >>> from artiflow.prefect.events import resource_id
    >>> resource_id("default", "bike-dataset")
    'artiflow.artifact.default.bike-dataset'
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.events import DeploymentEventTrigger
    from prefect.events.schemas.events import Event

    from artiflow import Registry, RegistryEvent

__all__ = [
    "ALIAS_MOVED",
    "ALIAS_REMOVED",
    "VERSION_CREATED",
    "alias_moved_trigger",
    "emit_registry_event",
    "flush_events",
    "forward_events",
    "promote",
    "resource_id",
    "to_prefect_event",
    "version_created_trigger",
]

VERSION_CREATED = "artiflow.version.created"
ALIAS_MOVED = "artiflow.alias.moved"
ALIAS_REMOVED = "artiflow.alias.removed"
_KINDS = {"version.created": VERSION_CREATED, "alias.moved": ALIAS_MOVED}

logger = logging.getLogger(__name__)


def resource_id(project: str, name: str) -> str:
    """The Prefect resource id of a collection: ``artiflow.artifact.<project>.<name>``.

    Example:
        >>> resource_id("team", "churn-model")
        'artiflow.artifact.team.churn-model'
    """
    return f"artiflow.artifact.{project}.{name}"


def to_prefect_event(event: RegistryEvent) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Map a :class:`~artiflow.RegistryEvent` to ``(event name, resource, payload)``.

    Example:
        >>> from artiflow import RegistryEvent
        >>> ev = RegistryEvent(kind="alias.moved", project="default", name="ds",
        ...     ref="default/ds:v2", version="v2", index=2, digest="abc",
        ...     aliases=["latest", "production"], alias="production", previous="v1")
        >>> name, resource, payload = to_prefect_event(ev)
        >>> name, resource["artiflow.alias"], payload["previous"]
        ('artiflow.alias.moved', 'production', 'v1')
    """
    try:
        name = _KINDS[event.kind]
    except KeyError:
        raise ValueError(f"unknown registry event kind {event.kind!r}") from None
    if event.kind == "alias.moved" and event.version is None:
        name = ALIAS_REMOVED  # not a move to a version: must not trigger "promoted" automations
    resource = {
        "prefect.resource.id": resource_id(event.project, event.name),
        "prefect.resource.name": f"{event.project}/{event.name}",
        "artiflow.project": event.project,
        "artiflow.name": event.name,
    }
    payload: dict[str, Any] = {
        "ref": event.ref,
        "project": event.project,
        "name": event.name,
        "version": event.version,
        "index": event.index,
        "digest": event.digest,
        "aliases": list(event.aliases),
        "run_id": getattr(event, "run_id", None),
    }
    if event.kind == "alias.moved":
        resource["artiflow.alias"] = str(event.alias)
        payload["alias"] = event.alias
        payload["previous"] = event.previous
    return name, resource, payload


def emit_registry_event(event: RegistryEvent) -> Event | None:
    """Emit one registry event as a Prefect event (buffered; see :func:`flush_events`).

    Inside a flow or task run, Prefect relates the event to that run. Errors are logged, never
    raised: the registry change already happened.

    Example:
        >>> from artiflow import Registry
        >>> import tempfile
        >>> reg = Registry(home=tempfile.mkdtemp())
        >>> unsubscribe = reg.subscribe(emit_registry_event)   # what forward_events does
        >>> unsubscribe()
    """
    from prefect.events import emit_event

    try:
        name, resource, payload = to_prefect_event(event)
        return emit_event(event=name, resource=resource, payload=payload)
    except Exception:  # a reporting failure must not undo or fail the registry change
        logger.warning("could not emit Prefect event for %s", event.ref, exc_info=True)
        return None


# One subscription per registry object, shared by every task run and forward_events block of
# the process: two artifact tasks running in threads must not emit each event twice.
_lock = threading.Lock()
_subscriptions: dict[int, tuple[Any, Any, int]] = {}  # id(reg) -> (reg, unsubscribe, count)


@contextlib.contextmanager
def forward_events(registry: Registry) -> Iterator[Registry]:
    """Within the block, every version and alias move committed through ``registry`` emits a
    Prefect event. Nested and concurrent blocks share one subscription.

    Example:
        >>> from artiflow import Registry
        >>> import tempfile
        >>> reg = Registry(home=tempfile.mkdtemp())
        >>> with forward_events(reg):
        ...     pass          # reg.alias("bike-dataset:v3", "production") would emit here
    """
    key = id(registry)
    with _lock:
        entry = _subscriptions.get(key)
        if entry is None:
            unsubscribe = registry.subscribe(emit_registry_event)
            _subscriptions[key] = (registry, unsubscribe, 1)
        else:
            _subscriptions[key] = (entry[0], entry[1], entry[2] + 1)
    try:
        yield registry
    finally:
        with _lock:
            reg, unsubscribe, count = _subscriptions[key]
            if count <= 1:
                del _subscriptions[key]
                unsubscribe()
            else:
                _subscriptions[key] = (reg, unsubscribe, count - 1)


def flush_events(timeout: float | None = 30.0) -> None:
    """Send the buffered Prefect events now. Call it before a short-lived process exits.

    Prefect buffers events in a background worker; a script that logs a version and exits at
    once may otherwise lose them. Inside a flow run Prefect flushes at the end of the run.

    Example:
        >>> flush_events()
    """
    from prefect.events.worker import EventsWorker

    from .tasks import flush_reports

    flush_reports(timeout)
    result = EventsWorker.drain_all(timeout=timeout)
    if inspect.iscoroutine(result):
        # called from inside a running event loop: draining would block it. The worker keeps
        # sending in the background; async code awaits ``EventsWorker.drain_all()`` itself.
        result.close()


def promote(ref: str, alias: str, *, registry: Registry | None = None, flush: bool = True) -> Any:
    """Move ``alias`` to the version ``ref`` names, emitting ``artiflow.alias.moved``.

    The usual last step of an evaluation gate. Returns the :class:`~artiflow.ArtifactVersion`.

    Example:
        >>> from artiflow import Registry
        >>> import tempfile
        >>> reg = Registry(home=tempfile.mkdtemp())
        >>> promote("bike-dataset:v0", "production", registry=reg)  # doctest: +SKIP
        <ArtifactVersion default/bike-dataset:v0>
    """
    from artiflow import Registry

    reg = registry if registry is not None else Registry()
    with forward_events(reg):
        version = reg.alias(ref, alias)
    if flush:
        flush_events()
    return version


def _trigger(
    event: str,
    project: str,
    name: str,
    parameters: dict[str, Any] | None,
    extra_match: dict[str, str],
    trigger_name: str | None,
) -> DeploymentEventTrigger:
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name=trigger_name,
        expect={event},
        match={"prefect.resource.id": resource_id(project, name), **extra_match},
        parameters=parameters,
    )


def alias_moved_trigger(
    name: str,
    alias: str,
    *,
    project: str = "default",
    parameters: dict[str, Any] | None = None,
    trigger_name: str | None = None,
) -> DeploymentEventTrigger:
    """A trigger that runs a deployment when ``alias`` moves to a version of ``name``.

    ``parameters`` are Jinja templates over the event: ``{{ event.payload.ref }}`` is the exact
    version promoted (``default/bike-dataset:v3``), so the run trains on that version even if
    the alias moves again before it starts.

    Example:
        >>> t = alias_moved_trigger("bike-dataset", "production",
        ...                         parameters={"dataset_ref": "{{ event.payload.ref }}"})
        >>> sorted(t.expect), t.match.model_dump()["artiflow.alias"]
        (['artiflow.alias.moved'], 'production')
    """
    return _trigger(ALIAS_MOVED, project, name, parameters, {"artiflow.alias": alias}, trigger_name)


def version_created_trigger(
    name: str,
    *,
    project: str = "default",
    parameters: dict[str, Any] | None = None,
    trigger_name: str | None = None,
) -> DeploymentEventTrigger:
    """A trigger that runs a deployment on every new version of ``name``.

    Example:
        >>> t = version_created_trigger("bike-dataset")
        >>> t.match.model_dump()["prefect.resource.id"]
        'artiflow.artifact.default.bike-dataset'
    """
    return _trigger(VERSION_CREATED, project, name, parameters, {}, trigger_name)
