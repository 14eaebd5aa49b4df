"""Turn registry events into Prefect events, and the triggers that react to them.

Every committed version emits ``artiflow.version.created`` and every alias move emits
``artiflow.alias.moved``. The resource is the collection, named after the registry identity
(:mod:`artiflow.identity`, ``ARTIFLOW_REGISTRY_NAME``)::

    {"prefect.resource.id": "artiflow://<registry>/<project>/<name>",
     "prefect.resource.name": "<project>/<name>",
     "artiflow.registry": "<registry>",
     "artiflow.project": "<project>", "artiflow.name": "<name>",
     "artiflow.alias": "<alias>"}          # alias moves only

and the payload carries ``ref``, ``version``, ``index``, ``digest``, ``aliases``, ``registry``,
``run_id`` (the registry run, when one made the change) and, for alias moves, ``alias`` and
``previous``. An alias removed from every version emits ``artiflow.alias.removed`` instead.
Because the alias is also a resource *label*, a :class:`~prefect.events.DeploymentEventTrigger`
can match "bike-dataset moved to production" without looking into the payload (see
:func:`alias_moved_trigger`); the triggers made here match the registry too, so an event of
another registry on the same Prefect server never starts the deployment.

Every registry event kind maps the same way, to ``artiflow.<kind>`` (the resource above; the
payload: the event's fields plus ``registry``).

Migration: before the registry identity the resource id was ``artiflow.artifact.<project>.<name>``;
re-create triggers with :func:`alias_moved_trigger` / :func:`version_created_trigger` (or match
``artiflow://<registry>/<project>/<name>`` and the ``artiflow.registry`` label).

Artifact tasks forward events on their own; code that changes the registry outside an artifact
task (a promotion step, a notebook) wraps it in :func:`forward_events`, or calls :func:`promote`.

Example:
    >>> from artiflow.prefect.events import resource_id
    >>> resource_id("default", "bike-dataset", registry="prod")
    'artiflow://prod/default/bike-dataset'
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from artiflow.exceptions import ArtiflowError
from artiflow.identity import REGISTRY_LABEL, collection_uri, registry_identity

if TYPE_CHECKING:
    from prefect.events import DeploymentEventTrigger
    from prefect.events.schemas.events import Event

    from artiflow import Registry, RegistryEvent

__all__ = [
    "ALIAS_MOVED",
    "ALIAS_REMOVED",
    "VERSION_CREATED",
    "VERSION_QUARANTINED",
    "VERSION_RELEASED",
    "PromotionGateError",
    "alias_moved_trigger",
    "emit_registry_event",
    "flush_events",
    "forward_events",
    "promote",
    "publish_event",
    "resource_id",
    "to_prefect_event",
    "trigger_parameter",
    "version_created_trigger",
]

VERSION_CREATED = "artiflow.version.created"
ALIAS_MOVED = "artiflow.alias.moved"
ALIAS_REMOVED = "artiflow.alias.removed"
VERSION_QUARANTINED = "artiflow.version.quarantined"
VERSION_RELEASED = "artiflow.version.released"
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def _fields(event: Any) -> dict[str, Any]:
    """The fields of a registry event as JSON-ready values (its ``to_dict`` when it has one)."""
    to_dict = getattr(event, "to_dict", None)
    data = to_dict() if callable(to_dict) else dict(vars(event))
    return {k: v for k, v in data.items() if _jsonable(v)}


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False


logger = logging.getLogger(__name__)


def resource_id(project: str, name: str, *, registry: Any = None) -> str:
    """The Prefect resource id of a collection: ``artiflow://<registry>/<project>/<name>``.

    ``registry`` is a :class:`~artiflow.Registry`, its identity, or None (the environment's).

    Example:
        >>> resource_id("team", "churn-model", registry="prod")
        'artiflow://prod/team/churn-model'
    """
    return collection_uri(registry_identity(registry), project, name)


def to_prefect_event(
    event: RegistryEvent, registry: Any = None
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Map a :class:`~artiflow.RegistryEvent` of ``registry`` (a Registry, its identity, or None
    for the environment's) to ``(event name, resource, payload)``.

    Example:
        >>> from artiflow import RegistryEvent
        >>> ev = RegistryEvent(kind="alias.moved", project="default", name="ds",
        ...     ref="default/ds:v2", version="v2", index=2, digest="abc",
        ...     aliases=["latest", "production"], alias="production", previous="v1")
        >>> name, resource, payload = to_prefect_event(ev, registry="prod")
        >>> name, resource["artiflow.alias"], payload["previous"], resource["artiflow.registry"]
        ('artiflow.alias.moved', 'production', 'v1', 'prod')
    """
    kind = getattr(event, "kind", None)
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f"unknown registry event kind {kind!r}")
    name = f"artiflow.{kind}"  # one generic mapping: every registry event kind
    alias = getattr(event, "alias", None)
    if kind == "alias.moved" and event.version is None:
        name = ALIAS_REMOVED  # not a move to a version: must not trigger "promoted" automations
    ident = registry_identity(registry)
    resource = {
        "prefect.resource.id": collection_uri(ident, event.project, event.name),
        "prefect.resource.name": f"{event.project}/{event.name}",
        REGISTRY_LABEL: ident,
        "artiflow.project": event.project,
        "artiflow.name": event.name,
    }
    if alias is not None:
        resource["artiflow.alias"] = str(alias)
    payload: dict[str, Any] = {
        k: v for k, v in _fields(event).items() if k != "kind" and not k.startswith("_")
    }
    payload.setdefault("aliases", [])
    payload["aliases"] = list(payload["aliases"] or [])
    payload.setdefault("run_id", None)
    payload["registry"] = ident
    if kind != "alias.moved":
        for key in ("alias", "previous"):
            if payload.get(key) is None:
                payload.pop(key, None)
    return name, resource, payload


def emit_registry_event(event: RegistryEvent, registry: Any = None) -> Event | None:
    """Emit one registry event of ``registry`` (a Registry, its identity, or None for the
    environment's) as a Prefect event (buffered; see :func:`flush_events`).

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
        name, resource, payload = to_prefect_event(event, registry)
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
            emit = functools.partial(emit_registry_event, registry=registry_identity(registry))
            unsubscribe = registry.subscribe(emit)
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


def publish_event(event: RegistryEvent, registry: Registry) -> None:
    """Emit ``event`` of ``registry`` unless a :func:`forward_events` block already does.

    The Prefect publisher of every :class:`~artiflow.Registry` when ``PREFECT_API_URL`` is set
    (the ``artiflow.event_publishers`` entry point, :mod:`artiflow._prefect_hook`): CLI
    promotions and logs, notebooks and scripts emit their events without ``forward_events``.
    The events are flushed at interpreter exit.

    Example:
        >>> from artiflow import Registry
        >>> import tempfile
        >>> reg = Registry(home=tempfile.mkdtemp())
        >>> with forward_events(reg):   # inside the block, forward_events emits: skipped here
        ...     publish_event(None, reg)
    """
    with _lock:
        if id(registry) in _subscriptions:
            return
    _flush_at_exit()
    emit_registry_event(event, registry=registry_identity(registry))


@functools.cache
def _flush_at_exit() -> None:
    import atexit

    atexit.register(flush_events)


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


class PromotionGateError(ArtiflowError):
    """:func:`promote` refused to move the alias: the version failed its gate (``reason``)."""

    def __init__(self, message: str, *, ref: str, alias: str, reason: str) -> None:
        super().__init__(message)
        self.ref = ref
        self.alias = alias
        self.reason = reason


def _gate(
    reg: Any,
    version: Any,
    alias: str,
    metric: str,
    threshold: float | None,
    higher_is_better: bool,
    compare_to_current: bool,
) -> tuple[bool, Any, str]:
    def passes(value: Any, bound: Any) -> bool:
        return float(value) >= float(bound) if higher_is_better else float(value) <= float(bound)

    value = (version.metadata or {}).get(metric)
    if value is None:
        return False, None, f"{version.ref} has no metadata[{metric!r}]"
    if threshold is not None and not passes(value, threshold):
        return False, value, f"{metric}={value} does not pass threshold {threshold}"
    if compare_to_current:
        try:
            current = reg.get(f"{version.full_name}:{alias}")
        except LookupError:
            current = None
        if current is not None and current.ref != version.ref:
            cur = (current.metadata or {}).get(metric)
            if cur is not None and not passes(value, cur):
                return False, value, f"{metric}={value} is worse than {current.ref} ({cur})"
    return True, value, "passed"


def promote(
    ref: str,
    alias: str,
    *,
    registry: Any = None,
    flush: bool = True,
    metric: str | None = None,
    threshold: float | None = None,
    higher_is_better: bool = True,
    compare_to_current: bool = False,
    check_name: str | None = None,
) -> Any:
    """Move ``alias`` to the version ``ref`` names, emitting ``artiflow.alias.moved``.

    ``registry``: a Registry, an ArtiflowRegistry block or its name (see
    :func:`~artiflow.prefect.blocks.resolve_registry`), or None (``Registry()``).

    With ``metric`` the move is gated like ``PromoteArtifactOperator``'s: the version's
    ``metadata[metric]`` must be ``>= threshold`` (``<=`` with ``higher_is_better=False``) and,
    with ``compare_to_current``, at least as good as the version holding ``alias`` now. The gate
    is recorded on the version as a check (``check_name``, default ``metric``) before the alias
    moves, so a protected alias requiring that check accepts it; a failed gate records a failed
    check and raises :class:`PromotionGateError` (nothing moves).

    The usual last step of an evaluation gate. Returns the :class:`~artiflow.ArtifactVersion`.

    Example:
        >>> from artiflow import Registry
        >>> import tempfile
        >>> reg = Registry(home=tempfile.mkdtemp())
        >>> promote("model:v0", "production", registry=reg, metric="auc", threshold=0.8)  # doctest: +SKIP
        <ArtifactVersion default/model:v0>
    """
    from .blocks import resolve_registry

    reg = resolve_registry(registry)
    if metric is not None:
        version = reg.get(ref)
        ok, value, why = _gate(
            reg, version, alias, metric, threshold, higher_is_better, compare_to_current
        )
        details = {
            "metric": metric,
            "value": value,
            "threshold": threshold,
            "higher_is_better": higher_is_better,
            "compare_to_current": compare_to_current,
            "alias": alias,
            "reason": why,
            "by": "artiflow.prefect.promote",
        }
        version.add_check(check_name or metric, ok, details)
        if not ok:
            raise PromotionGateError(
                f"not promoting {version.ref} to {alias!r}: {why} (the failed check "
                f"{check_name or metric!r} is recorded on the version)",
                ref=version.ref,
                alias=alias,
                reason=why,
            )
        ref = version.ref  # move exactly the version the gate judged
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
    registry: Any,
    pin: bool,
) -> DeploymentEventTrigger:
    from prefect.events import DeploymentEventTrigger

    from .runs import ARTIFLOW_PARAMETER

    ident = registry_identity(registry)
    if pin:
        parameters = {**(parameters or {}), ARTIFLOW_PARAMETER: trigger_parameter()}
    return DeploymentEventTrigger(
        name=trigger_name,
        expect={event},
        match={
            "prefect.resource.id": collection_uri(ident, project, name),
            REGISTRY_LABEL: ident,
            **extra_match,
        },
        parameters=parameters,
    )


def alias_moved_trigger(
    name: str,
    alias: str,
    *,
    project: str = "default",
    parameters: dict[str, Any] | None = None,
    trigger_name: str | None = None,
    registry: Any = None,
    pin: bool = False,
) -> DeploymentEventTrigger:
    """A trigger that runs a deployment when ``alias`` moves to a version of ``name`` in
    ``registry`` (a Registry, its identity, or None for the environment's registry).

    ``parameters`` are Jinja templates over the event: ``{{ event.payload.ref }}`` is the exact
    version promoted (``default/bike-dataset:v3``), so the run trains on that version even if
    the alias moves again before it starts. With ``pin=True`` the trigger also fills the
    flow's ``artiflow`` parameter from the event (:func:`trigger_parameter`): every artifact
    task of the run then resolves the triggering collection (any alias or ``latest``) to the
    event's version, and a run started by another registry's event is refused. The flow must
    declare ``artiflow: dict | None = None``.

    Example:
        >>> t = alias_moved_trigger("bike-dataset", "production",
        ...                         parameters={"dataset_ref": "{{ event.payload.ref }}"})
        >>> sorted(t.expect), t.match.model_dump()["artiflow.alias"]
        (['artiflow.alias.moved'], 'production')
    """
    return _trigger(
        ALIAS_MOVED,
        project,
        name,
        parameters,
        {"artiflow.alias": alias},
        trigger_name,
        registry,
        pin,
    )


def version_created_trigger(
    name: str,
    *,
    project: str = "default",
    parameters: dict[str, Any] | None = None,
    trigger_name: str | None = None,
    registry: Any = None,
    pin: bool = False,
) -> DeploymentEventTrigger:
    """A trigger that runs a deployment on every new version of ``name`` in ``registry``
    (``pin``: as in :func:`alias_moved_trigger`).

    Example:
        >>> t = version_created_trigger("bike-dataset", registry="prod")
        >>> t.match.model_dump()["prefect.resource.id"]
        'artiflow://prod/default/bike-dataset'
    """
    return _trigger(VERSION_CREATED, project, name, parameters, {}, trigger_name, registry, pin)


def trigger_parameter() -> dict[str, str]:
    """The ``artiflow`` flow parameter a pinning trigger passes: Jinja templates over the
    triggering event (its registry identity, exact version, id and name).

    Example:
        >>> trigger_parameter()["ref"]
        '{{ event.payload.ref }}'
    """
    return {
        "registry": "{{ event.payload.registry }}",
        "ref": "{{ event.payload.ref }}",
        "event_id": "{{ event.id | string }}",
        "event": "{{ event.event }}",
    }
