"""``artifact_task``: a ``prefect.task`` whose inputs and outputs are registry artifacts.

What happens in one task run (one try):

1. a registry run is started with ``orchestrator="prefect"``, ``pipeline`` = flow name,
   ``pipeline_run`` = flow run id, ``task`` = task name, ``try_number`` = the task run's
   ``run_count``, ``map_index`` = its position in ``task.map(...)`` (:func:`map_index_of`;
   None for a call or ``submit``) and ``info={"task_run_id": ...}``;
2. each input ref is resolved (same-run pinning, below), recorded as *used*, downloaded into a
   temporary folder and handed to the function as an ``ArtifactVersion`` with ``local_path``;
3. each output parameter receives an empty :class:`~artiflow.Artifact` draft;
4. only when the function returns are the drafts logged (recorded as *produced*, Prefect events
   emitted, Prefect assets reported); an exception, a timeout or a crash commits nothing and
   the registry run ends ``FAILED``;
5. a markdown artifact on the task run lists the versions used and produced.

Resolution goes through the task runtime only (:mod:`artiflow._tasking`, ``TaskExecution.
resolve``): upstream pin > replay > trigger pin > run lock > registry. Upstream means the task
runs whose futures or results the task received, or that it waited for (``wait_for=[...]``),
and, transitively, their own upstream artifact tasks; the nearest producer wins (without any
edge: the newest version logged earlier in the flow run). This module only translates Prefect's
context into a :class:`~artiflow._tasking.TaskContext`; the flow-run facts (the root flow run
whose lock a subflow shares, trigger pins, the replayed run, the worker) come from
:mod:`artiflow.prefect.runs`.

Caching: artifact tasks default to ``cache_policy=NO_CACHE``. A cached Prefect state skips the
function, so it cannot log anything; see :func:`artifact_task` for what happens when you opt in.

Example:
    >>> from prefect import flow
    >>> from artiflow.prefect import artifact_task
    >>> @artifact_task(outputs={"out": "numbers"})
    ... def make(n: int, out):
    ...     with out.new_file("n.txt") as f:
    ...         f.write(str(n))
    >>> @flow
    ... def pipeline():
    ...     make(3)          # `out` is injected
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import hashlib
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.context import FlowRunContext, TaskRunContext
from prefect.tasks import MaterializingTask

from artiflow import Output, Registry, parse_ref
from artiflow._tasking import (
    TaskContext,
    TaskExecution,
    UpstreamTaskRuns,
    check_overlap,
    check_parameters,
    default_registry,
    normalize_inputs,
    normalize_outputs,
)
from artiflow.identity import collection_uri, registry_identity

from .blocks import resolve_registry, ui_url_of
from .events import forward_events
from .runs import ORCHESTRATOR, flow_run_scope, replay_of_from, run_host, trigger_pins_from

__all__ = [
    "MAP_INDEX_TAG",
    "ArtifactInputsPolicy",
    "ArtifactTask",
    "artifact_task",
    "asset_key",
    "commit_parts",
    "declared_assets",
    "map_index_of",
    "part_ids",
    "prefect_distributed_id",
    "with_refs",
]

logger = logging.getLogger(__name__)

_SPEC_ATTR = "__artiflow_spec__"
#: a Registry, an ArtiflowRegistry block, a block name, a callable returning one, or None
RegistryLike = Any


# ---------------------------------------------------------------------------------------------
# declaration


@dataclass(frozen=True)
class _Spec:
    """What an artifact task declares; kept on the wrapper function (it survives with_options).

    ``outputs`` holds the normalised declarations of :mod:`artiflow._tasking.spec`.
    """

    fn: Callable[..., Any]
    inputs: Mapping[str, str]
    outputs: Mapping[str, Mapping[str, Any]]
    registry: Any = None
    signature: inspect.Signature = field(default=None)  # type: ignore[assignment]
    collaborative: bool = False

    def get_registry(self) -> Registry:
        if self.registry is None:
            return default_registry()
        return resolve_registry(self.registry)


#: ``Registry()`` built lazily in the task process, once per configuration
_default_registry = default_registry


def _build_spec(
    fn: Callable[..., Any],
    inputs: Mapping[str, str] | None,
    outputs: Mapping[str, str | Output] | None,
    registry: RegistryLike,
    collaborative: bool = False,
) -> _Spec:
    if collaborative and not outputs:
        raise TypeError("a collaborative artifact task needs outputs (the parts it writes)")
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"artifact_task does not support generator functions ({fn.__name__})")
    for param, value in (outputs or {}).items():
        if not isinstance(value, (str, Output)):
            raise TypeError(
                f"outputs[{param!r}] must be a collection name or artiflow.Output, "
                f"got {type(value).__name__}"
            )
    ins = normalize_inputs(inputs)  # validated now: a typo fails at import, not mid-flow
    outs = normalize_outputs(outputs)
    check_overlap(ins, outs)
    signature = check_parameters(fn, [*ins, *outs])
    return _Spec(
        fn=fn,
        inputs=ins,
        outputs=outs,
        registry=registry,
        signature=signature,
        collaborative=collaborative,
    )


def _public_signature(spec: _Spec) -> inspect.Signature:
    hidden = set(spec.inputs) | set(spec.outputs)
    params = [p for name, p in spec.signature.parameters.items() if name not in hidden]
    return spec.signature.replace(parameters=params)


# ---------------------------------------------------------------------------------------------
# resolution and reporting helpers


def upstream_task_runs(task_run: Any) -> set[str]:
    """Ids of the task runs whose futures or results ``task_run`` received or waited for
    (its ``task_inputs``: parameters and ``wait_for``; not ``__parents__``, the task runs that
    called it, which have not finished).

    Example:
        >>> upstream_task_runs(None)
        set()
    """
    found: set[str] = set()
    inputs = getattr(task_run, "task_inputs", None) or {}
    for key, values in inputs.items():
        if key == "__parents__":
            continue
        for value in values or ():
            kind = value.get("input_type") if isinstance(value, Mapping) else None
            kind = kind or getattr(value, "input_type", None)
            ident = value.get("id") if isinstance(value, Mapping) else getattr(value, "id", None)
            if kind == "task_run" and ident is not None:
                found.add(str(ident))
    return found


def _task_context(
    spec: _Spec,
    *,
    task_run: Any = None,
    task_name: str | None = None,
    info: Mapping[str, Any] | None = None,
) -> TaskContext:
    """The runtime's :class:`~artiflow._tasking.TaskContext` of the current Prefect task run
    (the flow-run facts: :mod:`artiflow.prefect.runs`)."""
    task_ctx = TaskRunContext.get()
    if task_run is None and task_ctx is not None:
        task_run = task_ctx.task_run
    if task_name is None:
        task_name = task_ctx.task.name if task_ctx is not None else spec.fn.__name__
    flow_ctx = FlowRunContext.get()
    flow_name = flow_ctx.flow.name if flow_ctx is not None and flow_ctx.flow else None
    flow_run = flow_ctx.flow_run if flow_ctx is not None else None
    flow_run_id = None
    if task_run is not None and task_run.flow_run_id is not None:
        flow_run_id = str(task_run.flow_run_id)
    elif flow_run is not None:
        flow_run_id = str(flow_run.id)
    if flow_run is not None and str(flow_run.id) != flow_run_id:
        flow_run = None  # not the flow run of this task run (should not happen)
    scope = flow_run_scope(flow_run, flow_ctx.parameters if flow_ctx is not None else None)
    root_name = scope.root.pipeline if scope.root is not None else flow_name
    upstream = upstream_task_runs(task_run)
    try_number = task_run.run_count if task_run is not None else 1
    map_index = map_index_of(task_run)
    run_info: dict[str, Any] = {}
    if task_run is not None:
        run_info = {"task_run_id": str(task_run.id), "task_run_name": task_run.name}
        if upstream:
            run_info["upstream_task_runs"] = sorted(upstream)
        run_info["flow_run_attempt"] = max(int(task_run.flow_run_run_count or 1), 1)
    if flow_run is not None:
        run_info["flow_run_name"] = flow_run.name
    worker = os.environ.get("PREFECT__WORKER_NAME")
    if worker:
        run_info["worker"] = worker
    if scope.root is not None:
        run_info["root_flow_run"] = scope.root.pipeline_run
    run_info.update(info or {})
    replay_of = replay_of_from(scope.parameter, root_name)
    if replay_of is not None:
        run_info["replay_of"] = replay_of.pipeline_run
    pins = trigger_pins_from(scope.parameter, registry=_identity_source(spec))
    if pins:
        run_info["trigger_pins"] = pins
        if scope.parameter.get("event_id"):
            run_info["trigger_event"] = str(scope.parameter["event_id"])
    return TaskContext(
        ORCHESTRATOR,
        pipeline=flow_name,
        pipeline_run=flow_run_id,
        task=task_name,
        run_name=_run_name(flow_run, task_run, task_name, try_number, map_index),
        try_number=try_number,
        map_index=map_index,
        host=run_host(),
        info=run_info,
        upstream=UpstreamTaskRuns(upstream),
        lock_parent=scope.root,
        trigger_pins=pins,
        replay_of=replay_of,
    )


def _identity_source(spec: _Spec) -> Any:
    """What the registry identity of the task's registry is computed from (no DB opened)."""
    if spec.registry is None:
        return None  # the environment's registry
    return spec.get_registry()


def _run_name(
    flow_run: Any, task_run: Any, task_name: str, try_number: int, map_index: int | None = None
) -> str:
    """``<flow run name>/<task run name>``, ``[<map index>]`` for a mapped task run, ``#<try>``
    from the second try on."""
    name = task_run.name if task_run is not None else task_name
    if map_index is not None:
        name = f"{name}[{map_index}]"
    if flow_run is not None and flow_run.name:
        name = f"{flow_run.name}/{name}"
    return f"{name}#{try_number}" if try_number > 1 else name


def _resolve_all(spec: _Spec, context: TaskContext, refs: Iterable[tuple[str, str]]) -> Any:
    """Resolve ``(param, ref)`` pairs through the task runtime (no registry run recorded)."""
    ex = TaskExecution(context, inputs={}, outputs={}, registry=spec.get_registry)
    return {p: ex.resolve(ref) for p, ref in refs}


def asset_key(project: str, name: str, *, registry: Any = None) -> str:
    """The Prefect asset key of a collection: ``artiflow://<registry>/<project>/<name>`` (the
    same name as its event resource; ``registry``: a Registry, its identity, or None).

    Example:
        >>> asset_key("default", "bike-dataset", registry="prod")
        'artiflow://prod/default/bike-dataset'
    """
    return collection_uri(registry_identity(registry), project, name)


def _markdown(task_name: str, run_id: str | None, state: str, used: Any, produced: Any) -> str:
    lines = [
        f"### artiflow · `{task_name}`",
        "",
        f"registry run `{run_id}` · **{state}**",
        "",
        "| | parameter | version | digest | aliases |",
        "|---|---|---|---|---|",
    ]
    for kind, versions in (("used", used), ("produced", produced)):
        for param, v in versions.items():
            aliases = ", ".join(v.aliases)
            lines.append(f"| {kind} | `{param}` | `{v.ref}` | `{v.digest[:12]}` | {aliases} |")
    if not used and not produced:
        lines.append("| | | nothing | | |")
    if state != "SUCCESS":
        lines += ["", "Nothing was committed: outputs are logged only when the task succeeds."]
    return "\n".join(lines)


#: the base URL of the artiflow web page (``artiflow ui`` or the Airflow plugin's ``/artiflow/``)
UI_URL_ENV = "ARTIFLOW_UI_URL"


def version_page_url(v: Any, base: str | None = None) -> str | None:
    """The web page of version ``v`` under ``base`` (default ``$ARTIFLOW_UI_URL``), or None
    when no URL is configured.

    Example:
        >>> from types import SimpleNamespace
        >>> v = SimpleNamespace(project="default", collection="bike model", version="v3")
        >>> version_page_url(v, "http://127.0.0.1:8000/artiflow/")
        'http://127.0.0.1:8000/artiflow/#/version/default/bike%20model/v3'
    """
    from urllib.parse import quote

    base = base if base is not None else os.environ.get(UI_URL_ENV)
    if not base:
        return None
    parts = (quote(str(p), safe="") for p in (v.project, v.collection, v.version))
    return f"{base.rstrip('/')}/#/version/{'/'.join(parts)}"


def _links(produced: Mapping[str, Any], base: str | None = None) -> list[tuple[str, str]]:
    """``(url, text)`` of the web pages of the versions produced under ``base`` (default
    ``$ARTIFLOW_UI_URL``; none without a URL)."""
    found = []
    for v in produced.values():
        url = version_page_url(v, base)
        if url is not None:
            found.append((url, v.ref))
    return found


def _post_artifacts(
    task_name: str,
    markdown: str,
    links: list[tuple[str, str]],
    task_run_id: Any,
    flow_run_id: Any,
) -> None:
    """Create the artifacts with a client of its own and the run ids given, so it works in any
    thread or process, in sync and async tasks, after the flow run closed its client."""
    from prefect.client.schemas.actions import ArtifactCreate

    # No key: a keyed artifact also maintains a per-key history on the server, which made the
    # call ~30 ms slower on the test server (74 vs 44 ms).
    artifacts = [
        ArtifactCreate(
            type="markdown",
            data=markdown,
            description=f"artiflow versions used and produced by {task_name}",
            task_run_id=task_run_id,
            flow_run_id=flow_run_id,
        ),
        *(
            ArtifactCreate(
                type="link",
                data=f"[{text}]({url})",
                description=f"artiflow page of {text}",
                task_run_id=task_run_id,
                flow_run_id=flow_run_id,
            )
            for url, text in links
        ),
    ]
    for attempt in (1, 2):
        try:
            client = _report_client()
            while artifacts:
                client.create_artifact(artifacts[0])
                artifacts.pop(0)
            return
        except Exception:
            _drop_report_client()  # e.g. the API server was restarted: a new client, once
            if attempt == 2:
                logger.warning("could not create the artiflow Prefect artifact", exc_info=True)


#: the reporter's Prefect clients, per process and API settings (only the reporter thread uses
#: them). A new client costs ~25 ms of CPU (an SSL context loading the CA bundle, a CSRF token
#: request): more than the task's own bookkeeping, once per artifact task before.
_REPORT_CLIENTS: dict[tuple[Any, ...], Any] = {}


def _report_client_key() -> tuple[Any, ...]:
    from prefect.settings import get_current_settings

    api = get_current_settings().api
    secret = getattr(api.key, "get_secret_value", lambda: api.key)()
    auth = getattr(api.auth_string, "get_secret_value", lambda: api.auth_string)()
    return (os.getpid(), str(api.url), secret, auth, api.tls_insecure_skip_verify)


def _report_client() -> Any:
    """The reporter's started sync client for the current API settings (built on first use)."""
    from prefect.client.orchestration import get_client
    from prefect.context import SyncClientContext

    key = _report_client_key()
    client = _REPORT_CLIENTS.get(key)
    if client is None:
        # the copied context may hold the task run's client, closed once the run ended:
        # forget it in this copy so that get_client() builds a new one
        SyncClientContext.__var__.set(None)  # type: ignore[arg-type]
        client = get_client(sync_client=True)
        client.__enter__()
        _REPORT_CLIENTS[key] = client
    return client


def _drop_report_client() -> None:
    """Close and forget the reporter's client for the current settings (it failed)."""
    try:
        client = _REPORT_CLIENTS.pop(_report_client_key(), None)
    except Exception:  # the settings themselves cannot be read: forget every client
        clients = list(_REPORT_CLIENTS.values())
        _REPORT_CLIENTS.clear()
        for c in clients:
            _close_quietly(c)
        return
    if client is not None:
        _close_quietly(client)


def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):  # already closed, or its transport broke
        client.__exit__(None, None, None)


def close_report_clients() -> None:
    """Close the reporter's Prefect clients of this process (at exit, after the last post)."""
    mine = [k for k in _REPORT_CLIENTS if k[0] == os.getpid()]
    for key in mine:
        _close_quietly(_REPORT_CLIENTS.pop(key))


def _report_markdown(
    task_name: str,
    markdown: str,
    links: list[tuple[str, str]] | None = None,
    task_run: Any = None,
) -> None:
    """Post the task run's markdown artifact (and links) in the background (an API round trip
    of 35-80 ms that the task need not wait for). The settings come from a copy of the task
    run's context; ``flush_events()`` and interpreter exit wait for pending posts. In a
    process-pool worker (``ProcessPoolTaskRunner``) the post is awaited before the task ends:
    the worker process may be stopped without running exit handlers."""
    import multiprocessing

    if task_run is None:
        ctx = TaskRunContext.get()
        task_run = ctx.task_run if ctx is not None else None
    task_run_id = getattr(task_run, "id", None)
    flow_run_id = getattr(task_run, "flow_run_id", None)
    if flow_run_id is None:
        flow_ctx = FlowRunContext.get()
        flow_run_id = flow_ctx.flow_run.id if flow_ctx is not None and flow_ctx.flow_run else None
    context = contextvars.copy_context()
    future = _reporter().submit(
        context.run, _post_artifacts, task_name, markdown, links or [], task_run_id, flow_run_id
    )
    if multiprocessing.parent_process() is not None:
        future.result(timeout=60)
    else:
        _PENDING.append(future)


_PENDING: list[Any] = []
_REPORTER: Any = None


def _reporter() -> Any:
    global _REPORTER
    if _REPORTER is None:
        from concurrent.futures import ThreadPoolExecutor

        _REPORTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="artiflow-prefect-report")
        atexit.register(_flush_and_close)
    return _REPORTER


def _flush_and_close() -> None:
    flush_reports()
    close_report_clients()


def flush_reports(timeout: float | None = 30.0) -> None:
    """Wait until the task runs' markdown artifacts are posted (called by ``flush_events``)."""
    from concurrent.futures import wait

    pending, _PENDING[:] = list(_PENDING), []
    if pending:
        wait(pending, timeout=timeout)


def declared_assets(spec: Any) -> tuple[list[Any], list[Any]]:
    """``(outputs, inputs)`` of an artifact task as Prefect ``Asset`` objects (keys:
    :func:`asset_key` in the task's registry; a ref without a project takes the registry's
    default project). No database is opened; a block name is loaded from the Prefect API.

    Example:
        >>> @artifact_task(inputs={"raw": "team/raw:latest"}, outputs={"out": "clean"},
        ...                registry="prod")   # a block name: resolved at the first call
        ... def clean(raw, out):
        ...     pass
        >>> clean.assets        # not bound before the first call (no API call at import)
        []
    """
    from prefect.assets import Asset

    reg = spec.get_registry()
    ident = registry_identity(reg)
    project = reg.settings.default_project

    def asset(ref: str) -> Any:
        r = parse_ref(ref, project)
        return Asset(key=asset_key(r.project, r.name, registry=ident))

    outputs = [asset(o["name"]) for o in spec.outputs.values()]
    inputs = [asset(ref) for ref in spec.inputs.values()]
    return outputs, inputs


def _report_assets(produced: Mapping[str, Any], registry: Any = None) -> None:
    """Add each produced version to its asset's materialization metadata (the public
    ``prefect.assets.add_asset_metadata``; the assets themselves are declared on the task,
    :meth:`ArtifactTask.bind_assets`)."""
    from prefect.assets import add_asset_metadata
    from prefect.context import AssetContext

    if AssetContext.get() is None:
        return  # not a task run (e.g. the function called directly)
    ident = registry_identity(registry)
    for v in produced.values():
        key = asset_key(v.project, v.collection, registry=ident)
        metadata = {
            "artiflow.ref": v.ref,
            "artiflow.version": v.version,
            "artiflow.digest": v.digest,
            "artiflow.aliases": list(v.aliases),
        }
        try:
            add_asset_metadata(key, metadata)
        except ValueError:  # the asset was not declared (e.g. resolved to another registry)
            logger.warning("artiflow: %s is not an asset declared by this task", key)


# ---------------------------------------------------------------------------------------------
# one execution


class _Execution:
    """One try of an artifact task: the shared runtime plus Prefect's reporting."""

    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        context = _task_context(spec)
        self.task_name = context.task
        self.ex = TaskExecution(
            context,
            inputs=spec.inputs,
            outputs=spec.outputs,
            registry=spec.get_registry,
            collaborative=spec.collaborative,
        )

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        spec = self.spec
        bound = _public_signature(spec).bind(*args, **kwargs)
        try:
            self.ex.open()
        except BaseException as exc:
            self.fail(exc)
            raise
        values = {**bound.arguments, **self.ex.inputs, **self.ex.drafts}
        ordered = {name: values[name] for name in spec.signature.parameters if name in values}
        full = inspect.BoundArguments(spec.signature, ordered)  # type: ignore[arg-type]
        full.apply_defaults()
        return full

    def commit(self) -> None:
        ex = self.ex
        try:
            with forward_events(ex.registry):
                # every output in one commit: all of them become visible, or none; the parts of
                # a collaborative task go to this flow run attempt's pending version
                ex.commit(part_ids(self.spec, ex.task_context) if self.spec.collaborative else None)
            ex.close()
        except BaseException as exc:
            self.fail(exc)
            raise
        _report_assets(ex.produced, ex.registry)
        run_id = ex.run.id if ex.run is not None else None
        _report_markdown(
            self.task_name,
            _markdown(self.task_name, run_id, "SUCCESS", ex.inputs, ex.produced),
            _links(ex.produced, ui_url_of(self.spec.registry)),
        )

    def fail(self, exc: BaseException) -> None:
        run = self.ex.run
        self.ex.close(exc)
        if run is None:
            return
        _report_markdown(
            self.task_name, _markdown(self.task_name, run.id, "FAILED", self.ex.inputs, {})
        )


def _make_wrapper(spec: _Spec) -> Callable[..., Any]:
    fn = spec.fn
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            execution = _Execution(spec)
            call = execution.start(args, kwargs)
            try:
                result = await fn(*call.args, **call.kwargs)
            except BaseException as exc:
                execution.fail(exc)
                raise
            execution.commit()
            return result

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            execution = _Execution(spec)
            call = execution.start(args, kwargs)
            try:
                result = fn(*call.args, **call.kwargs)
            except BaseException as exc:
                execution.fail(exc)
                raise
            execution.commit()
            return result

        wrapper = sync_wrapper
    wrapper.__signature__ = _public_signature(spec)  # type: ignore[attr-defined]
    setattr(wrapper, _SPEC_ATTR, spec)
    return wrapper


# ---------------------------------------------------------------------------------------------
# caching


@dataclass
class ArtifactInputsPolicy(CachePolicy):
    """A cache-policy term that changes when any resolved input version changes.

    ``artifact_task`` adds it to a cache policy you opt into, so a cached result is reused only
    for the same input versions (Prefect's ``INPUTS`` cannot see injected artifacts).
    """

    spec: Any = None

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if self.spec is None or not self.spec.inputs:
            return "no-artifact-inputs"
        h = hashlib.sha256()
        try:
            context = _task_context(
                self.spec, task_run=task_ctx.task_run, task_name=task_ctx.task.name
            )
            versions = _resolve_all(self.spec, context, sorted(self.spec.inputs.items()))
            for param, v in versions.items():
                h.update(f"{param}={v.ref}@{v.digest};".encode())
        except Exception:
            return None  # unresolvable input: do not cache, let the run fail with the real error
        return h.hexdigest()


def _record_cached_run(task: Task[Any, Any], task_run: Any, state: Any) -> None:
    """on_completion hook: a result restored from cache still leaves a trace in the registry.

    The function did not run, so no version is logged; the registry run records the inputs the
    cache key stood for and ``info["cached"] = True``, and the task log says so.
    """
    if state.name != "Cached":
        return
    spec = getattr(task.fn, _SPEC_ATTR, None)
    if spec is None:
        return
    outputs = [o["name"] for o in spec.outputs.values()]
    context = _task_context(
        spec,
        task_run=task_run,
        task_name=task.name,
        info={"cached": True, "outputs_not_logged": outputs},
    )
    with TaskExecution(
        context, inputs=spec.inputs, outputs={}, registry=spec.get_registry, download=False
    ) as ex:
        ex.open()
    run, used = ex.run, ex.inputs
    assert run is not None
    from prefect.logging import get_logger

    get_logger("artiflow.prefect").warning(
        "task %r restored its result from the Prefect cache: artiflow recorded run %s with "
        "its inputs but logged no new version of %s (the run that computed the cached "
        "result logged them)",
        task.name,
        run.id,
        ", ".join(outputs) or "nothing",
    )
    _report_markdown(task.name, _markdown(task.name, run.id, "CACHED", used, {}), task_run=task_run)


def _has_artifact_policy(policy: Any) -> bool:
    from prefect.cache_policies import CompoundCachePolicy

    if isinstance(policy, ArtifactInputsPolicy):
        return True
    if isinstance(policy, CompoundCachePolicy):
        return any(_has_artifact_policy(p) for p in policy.policies)
    return False


def _caches(policy: Any) -> bool:
    return isinstance(policy, CachePolicy) and policy is not NO_CACHE


def _task_options(spec: _Spec, options: dict[str, Any]) -> dict[str, Any]:
    """``prefect.task`` options with artiflow's caching rules applied (see artifact_task)."""
    opts = dict(options)
    policy = opts.pop("cache_policy", None)
    key_fn = opts.pop("cache_key_fn", None)
    if key_fn is not None:
        policy = CachePolicy.from_cache_key_fn(key_fn)
    if not _caches(policy):
        opts["cache_policy"] = NO_CACHE
        return opts
    if not _has_artifact_policy(policy):
        policy = policy + ArtifactInputsPolicy(spec=spec)
    opts["cache_policy"] = policy
    opts["on_completion"] = [*(opts.get("on_completion") or []), _record_cached_run]
    return opts


#: the tag :meth:`ArtifactTask.map` puts on each mapped task run, followed by its index
MAP_INDEX_TAG = "artiflow-map-index:"


def map_index_of(task_run: Any) -> int | None:
    """The map index of a task run made by :meth:`ArtifactTask.map` (its
    :data:`MAP_INDEX_TAG` tag), else None.

    Prefect itself records no map index: a mapped task run is one more call of the task (its
    name ends in the n-th call's number, counted over the whole flow run), so ``map`` tags each
    one with its position in the mapped iterables; tags travel with the task run to any task
    runner (threads, processes, Dask).

    Example:
        >>> from types import SimpleNamespace
        >>> map_index_of(SimpleNamespace(tags=["nightly", "artiflow-map-index:3"]))
        3
        >>> map_index_of(SimpleNamespace(tags=["nightly"])) is None
        True
    """
    for tag in getattr(task_run, "tags", None) or ():
        if isinstance(tag, str) and tag.startswith(MAP_INDEX_TAG):
            try:
                return int(tag[len(MAP_INDEX_TAG) :])
            except ValueError:
                continue
    return None


def _map_helpers() -> Any:
    """``(TaskRunner.map, get_call_parameters, raise_if_flow_run_suspension_requested)`` of the
    installed Prefect, or None when one of them is not where Prefect 3.6-3.7 keep it.

    The suspension check is new in Prefect 3.7 (3.6's ``Task.map`` has none): without it, a
    no-op stands in, as 3.6 itself does."""
    try:
        from prefect.task_runners import TaskRunner
        from prefect.utilities.callables import get_call_parameters
        from prefect.utilities.visualization import get_task_viz_tracker
    except ImportError:  # pragma: no cover - another Prefect layout: map without an index
        return None
    try:
        from prefect._flow_run_suspension import raise_if_flow_run_suspension_requested
    except ImportError:  # Prefect 3.6: Task.map checks no suspension

        def raise_if_flow_run_suspension_requested() -> None:
            return None

    if get_task_viz_tracker():
        return None  # flow.visualize(): let Prefect refuse map as it does
    return TaskRunner.map, get_call_parameters, raise_if_flow_run_suspension_requested


_NO_CACHE_ATTR = object()


class _IndexingRunner:
    """The flow run's task runner, seen by ``TaskRunner.map``: its n-th ``submit`` (the n-th
    mapped call) runs under the tag ``artiflow-map-index:<n>`` (replacing an outer map's)."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self._next = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        from prefect.context import TagsContext

        index, self._next = self._next, self._next + 1
        current = TagsContext.get().current_tags or set()
        tags = {t for t in current if not t.startswith(MAP_INDEX_TAG)}
        runner = self._runner
        # ProcessPoolTaskRunner serializes the context (tags included) once per runner and
        # reuses it for every later submit: let it serialize this submit's tags, then put the
        # cached one back (or none), so neither this index nor a stale one leaks elsewhere
        cached = getattr(runner, "_cached_context", _NO_CACHE_ATTR)
        with TagsContext(current_tags=tags | {f"{MAP_INDEX_TAG}{index}"}):
            if cached is _NO_CACHE_ATTR:
                return runner.submit(*args, **kwargs)
            runner._cached_context = None
            try:
                return runner.submit(*args, **kwargs)
            finally:
                runner._cached_context = cached


class ArtifactTask(MaterializingTask):  # type: ignore[type-arg]
    """The ``prefect.Task`` that :func:`artifact_task` returns: a ``MaterializingTask`` (what
    ``prefect.assets.materialize`` makes) whose assets are its output collections and whose
    ``asset_deps`` are its input collections, bound on the first call (:meth:`bind_assets`).

    ``with_options`` differs too: a copy that turns caching on gets the same protection as a
    task declared with a cache policy (input versions in the key, cache hits recorded).

    Example:
        >>> @artifact_task(outputs={"out": "numbers"})
        ... def make(out):
        ...     pass
        >>> isinstance(make.with_options(retries=1), ArtifactTask)
        True
    """

    def bind_assets(self) -> None:
        """Declare the task's Prefect assets: outputs as ``assets``, inputs added to
        ``asset_deps`` (keys in the task's registry, so resolved at each call, submit or map,
        never at import: ``registry=`` may stand for another registry by then). Errors are
        logged, never raised."""
        spec = getattr(self.fn, _SPEC_ATTR, None)
        if spec is None:
            return
        try:
            outputs, inputs = declared_assets(spec)  # cheap: the registry object is cached
        except Exception:
            logger.warning("could not declare the Prefect assets of %r", self.name, exc_info=True)
            return
        user = getattr(self, "_artiflow_user_deps", None)
        if user is None:  # the asset_deps given to artifact_task(...) / with_options(...)
            user = self._artiflow_user_deps = list(self.asset_deps)
        have = {a.key for a in user}
        self.asset_deps = [*user, *(a for a in inputs if a.key not in have)]
        self.assets = outputs
        self.materialized_by = self.materialized_by or "artiflow"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.bind_assets()
        return super().__call__(*args, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.bind_assets()
        return super().submit(*args, **kwargs)

    def map(
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Any = None,
        deferred: bool = False,
        **kwargs: Any,
    ) -> Any:
        """``Task.map``, with each mapped task run tagged with its index (:data:`MAP_INDEX_TAG`):
        the registry run records it as ``map_index``, as Airflow's mapped instances do."""
        self.bind_assets()
        runner = getattr(FlowRunContext.get(), "task_runner", None)
        helpers = _map_helpers() if runner is not None and not deferred else None
        if helpers is None:  # deferred, outside a flow, or an unknown Prefect: no index
            return super().map(
                *args, return_state=return_state, wait_for=wait_for, deferred=deferred, **kwargs
            )
        base_map, call_parameters, check_suspension = helpers
        check_suspension()
        parameters = call_parameters(self.fn, args, kwargs, apply_defaults=False)
        futures = base_map(_IndexingRunner(runner), self, parameters, wait_for)
        if return_state:
            states = []
            for future in futures:
                future.wait()
                states.append(future.state)
            return states
        return futures

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        new: Any = super().with_options(*args, **kwargs)
        new.__class__ = type(self)
        if "asset_deps" not in kwargs and hasattr(self, "_artiflow_user_deps"):
            new._artiflow_user_deps = list(self._artiflow_user_deps)
        spec = getattr(new.fn, _SPEC_ATTR, None)
        policy: Any = new.cache_policy
        if spec is not None and _caches(policy):
            if not _has_artifact_policy(policy):
                new.cache_policy = new._user_cache_policy = policy + ArtifactInputsPolicy(spec=spec)
            if _record_cached_run not in new.on_completion_hooks:
                new.on_completion_hooks = [*new.on_completion_hooks, _record_cached_run]
        return new


# ---------------------------------------------------------------------------------------------
# public API


def artifact_task(
    fn: Callable[..., Any] | None = None,
    *,
    inputs: Mapping[str, str] | None = None,
    outputs: Mapping[str, str | Output] | None = None,
    registry: RegistryLike = None,
    collaborative: bool = False,
    **task_options: Any,
) -> Any:
    """Make ``fn`` a Prefect task whose artifact parameters are injected and versioned.

    ``inputs`` maps parameter names to refs (``{"raw": "bike-dataset:latest"}``); the function
    receives an :class:`~artiflow.ArtifactVersion` whose ``local_path`` holds the downloaded
    files (a temporary folder, removed when the task ends). ``outputs`` maps parameter names to
    collection names or :class:`~artiflow.Output`; the function receives an empty
    :class:`~artiflow.Artifact` draft to fill, logged only if the function returns. Callers pass
    only the other parameters. ``registry`` is a :class:`~artiflow.Registry`, an
    :class:`~artiflow.prefect.ArtiflowRegistry` block, a block document name
    (``"artiflow-registry/prod"``, loaded from the Prefect API in the task process), a callable
    returning one of these, or None for ``Registry()`` (from ``ARTIFLOW_*``).

    Every other keyword goes to :func:`prefect.task` (``retries``, ``timeout_seconds``,
    ``tags``, ``on_failure``, ...). Caching: the default is ``cache_policy=NO_CACHE``, because a
    cached state skips the function and so would skip logging. If you pass a ``cache_policy``
    or ``cache_key_fn``, artiflow adds :class:`ArtifactInputsPolicy` to it (a new input version
    is a cache miss) and, on a cache hit, records a registry run marked ``cached`` with the
    inputs it stood for, logs a warning and writes the Prefect artifact: nothing is skipped
    silently.

    With ``collaborative=True`` each call (typically each instance of ``task.map(...)``) adds
    its drafts to ONE pending version per output, shared by the calls of this task in this
    flow run attempt (:func:`part_ids`); :func:`commit_parts` commits it once the calls are
    done. A flow-level retry is a new attempt: it assembles a new version, and the parts of
    the failed attempt are never committed.

    Example:
        >>> from artiflow import Output
        >>> @artifact_task(
        ...     inputs={"raw": "bike-dataset:latest"},
        ...     outputs={"model": Output("bike-model", type="model", aliases=["candidate"])},
        ...     retries=2,
        ... )
        ... def train(raw, model, epochs: int = 3):
        ...     rows = (raw.local_path / "data.csv").read_text().splitlines()
        ...     with model.new_file("model.json") as f:
        ...         f.write(str(len(rows) * epochs))
        >>> train.name, list(inspect.signature(train.fn).parameters)
        ('train', ['epochs'])
    """
    if fn is None:
        return functools.partial(
            artifact_task,
            inputs=inputs,
            outputs=outputs,
            registry=registry,
            collaborative=collaborative,
            **task_options,
        )
    spec = _build_spec(fn, inputs, outputs, registry, collaborative)
    return ArtifactTask(fn=_make_wrapper(spec), assets=[], **_task_options(spec, task_options))


def with_refs(task: Task[Any, Any], **refs: str) -> Task[Any, Any]:
    """A copy of an artifact task reading other refs, e.g. the exact version an event named.

    Example:
        >>> @artifact_task(inputs={"raw": "bike-dataset:production"})
        ... def count(raw):
        ...     return raw.size
        >>> pinned = with_refs(count, raw="default/bike-dataset:v3")
        >>> getattr(pinned.fn, "__artiflow_spec__").inputs["raw"]
        'default/bike-dataset:v3'
    """
    spec = getattr(task.fn, _SPEC_ATTR, None)
    if spec is None:
        raise TypeError(f"{task.name!r} is not an artifact task")
    unknown = set(refs) - set(spec.inputs)
    if unknown:
        raise TypeError(f"{task.name!r} has no artifact inputs {sorted(unknown)}")
    new_spec = replace(spec, inputs=normalize_inputs({**spec.inputs, **refs}))
    new_task = task.with_options()
    new_task.fn = _make_wrapper(new_spec)
    policy: Any = new_task.cache_policy
    if isinstance(policy, CachePolicy):  # keep the cache key in step with the new inputs
        new_task.cache_policy = _retarget_policy(policy, new_spec)  # type: ignore[assignment]
    return new_task


def _retarget_policy(policy: CachePolicy, spec: _Spec) -> CachePolicy:
    from prefect.cache_policies import CompoundCachePolicy

    if isinstance(policy, ArtifactInputsPolicy):
        return ArtifactInputsPolicy(spec=spec)
    if isinstance(policy, CompoundCachePolicy):
        policies = [_retarget_policy(p, spec) for p in policy.policies]
        return replace(policy, policies=policies)
    return policy


# ---------------------------------------------------------------------------------------------
# collaborative (mapped) versions


def prefect_distributed_id(flow_run_id: str, attempt: int, task: str, output: str) -> str:
    """The pending-version id shared by the calls of a collaborative task in one flow run
    ATTEMPT (a flow-level retry is a new attempt, so it assembles a new version).

    Example:
        >>> a = prefect_distributed_id("run", 1, "shard", "out")
        >>> a == prefect_distributed_id("run", 1, "shard", "out"), a == prefect_distributed_id(
        ...     "run", 2, "shard", "out")
        (True, False)
    """
    key = f"{flow_run_id}\x00{int(attempt)}\x00{task}\x00{output}"
    return f"prefect-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def part_ids(spec: Any, context: TaskContext, task: str | None = None) -> dict[str, str]:
    """``{output param: distributed id}`` of a collaborative task in ``context``'s flow run
    attempt (``task``: the collaborative task's name, default the context's task)."""
    if context.pipeline_run is None:
        raise TypeError(
            f"collaborative task {task or context.task!r} must run inside a flow (its parts "
            "are assembled per flow run)"
        )
    attempt = int(context.info.get("flow_run_attempt") or 1)
    name = task or context.task
    return {p: prefect_distributed_id(context.pipeline_run, attempt, name, p) for p in spec.outputs}


def commit_parts(task: Task[Any, Any], *, wait_for: Iterable[Any] = (), **options: Any) -> Any:
    """Submit the step that commits the versions a collaborative task's calls assembled in
    this flow run attempt; returns its future (result: ``{output param: version ref}``).

    Call it in the flow after the calls, waiting for them. If one of them failed, the step
    does not run and nothing is committed (a flow retry assembles a new version).

    Example:
        >>> @artifact_task(outputs={"part": "shards"}, collaborative=True)
        ... def shard(i: int, part):
        ...     with part.new_file(f"part-{i}.txt") as f:
        ...         f.write(str(i))
        >>> from prefect import flow
        >>> @flow
        ... def build():
        ...     parts = shard.map(range(4))
        ...     return commit_parts(shard, wait_for=parts).result()  # {'part': 'default/shards:v0'}
    """
    spec = getattr(task.fn, _SPEC_ATTR, None)
    if spec is None or not spec.collaborative:
        raise TypeError(f"{task.name!r} is not a collaborative artifact task")
    target = task.name
    step_name = f"commit-{target}"

    def commit() -> dict[str, str]:
        context = _task_context(spec, task_name=step_name)
        ids = part_ids(spec, context, task=target)
        with TaskExecution(
            context, inputs={}, outputs=spec.outputs, registry=spec.get_registry
        ) as ex:
            ex.start()
            with forward_events(ex.registry):
                produced = ex.finish_parts(ids)
        return {p: v.ref for p, v in produced.items()}

    commit.__name__ = commit.__qualname__ = step_name.replace("-", "_")
    step: Task[Any, Any] = Task(fn=commit, name=step_name, cache_policy=NO_CACHE, **options)
    return step.submit(wait_for=list(wait_for))
