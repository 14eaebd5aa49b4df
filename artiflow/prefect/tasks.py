"""``artifact_task``: a ``prefect.task`` whose inputs and outputs are registry artifacts.

What happens in one task run (one try):

1. a registry run is started with ``orchestrator="prefect"``, ``pipeline`` = flow name,
   ``pipeline_run`` = flow run id, ``task`` = task name, ``try_number`` = the task run's
   ``run_count`` and ``info={"task_run_id": ...}``;
2. each input ref is resolved (same-run pinning, below), recorded as *used*, downloaded into a
   temporary folder and handed to the function as an ``ArtifactVersion`` with ``local_path``;
3. each output parameter receives an empty :class:`~artiflow.Artifact` draft;
4. only when the function returns are the drafts logged (recorded as *produced*, Prefect events
   emitted, Prefect assets reported); an exception, a timeout or a crash commits nothing and
   the registry run ends ``FAILED``;
5. a markdown artifact on the task run lists the versions used and produced.

Same-run pinning: an input with no selector or ``latest`` whose collection was logged earlier in
the same flow run resolves to *that* version (``Registry.produced_in``), not to a newer one a
concurrent run may have logged since. Order the producer before the consumer by passing its
result or with ``wait_for=[...]``. Aliases other than ``latest`` and ``vN`` resolve globally.

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
import contextvars
import functools
import hashlib
import inspect
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.context import FlowRunContext, TaskRunContext

from artiflow import Artifact, Output, Registry, parse_ref

from .events import forward_events

__all__ = ["ArtifactInputsPolicy", "ArtifactTask", "artifact_task", "asset_key", "with_refs"]

logger = logging.getLogger(__name__)

_SPEC_ATTR = "__artiflow_spec__"
RegistryLike = Registry | Callable[[], Registry] | None


# ---------------------------------------------------------------------------------------------
# declaration


@dataclass(frozen=True)
class _Spec:
    """What an artifact task declares; kept on the wrapper function (it survives with_options)."""

    fn: Callable[..., Any]
    inputs: Mapping[str, str]
    outputs: Mapping[str, Output]
    registry: Any = None
    signature: inspect.Signature = field(default=None)  # type: ignore[assignment]

    def get_registry(self) -> Registry:
        if isinstance(self.registry, Registry):
            return self.registry
        if callable(self.registry):
            return self.registry()
        return _default_registry()


_registries: dict[tuple[str | None, ...], Registry] = {}
_registries_lock = threading.Lock()


def _default_registry() -> Registry:
    """``Registry()`` built lazily in the task process, once per configuration."""
    key = tuple(
        os.environ.get(k)
        for k in ("ARTIFLOW_HOME", "ARTIFLOW_DB_URL", "ARTIFLOW_STORE_URL", "ARTIFLOW_PROJECT")
    )
    with _registries_lock:
        reg = _registries.get(key)
        if reg is None:
            reg = _registries[key] = Registry()
        return reg


def _as_output(value: str | Output, param: str) -> Output:
    if isinstance(value, Output):
        return value
    if isinstance(value, str):
        return Output(value)
    raise TypeError(
        f"outputs[{param!r}] must be a collection name or artiflow.Output, "
        f"got {type(value).__name__}"
    )


def _build_spec(
    fn: Callable[..., Any],
    inputs: Mapping[str, str] | None,
    outputs: Mapping[str, str | Output] | None,
    registry: RegistryLike,
) -> _Spec:
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"artifact_task does not support generator functions ({fn.__name__})")
    signature = inspect.signature(fn)
    ins = dict(inputs or {})
    outs = {param: _as_output(value, param) for param, value in (outputs or {}).items()}
    both = set(ins) & set(outs)
    if both:
        raise ValueError(f"parameters {sorted(both)} are declared as both inputs and outputs")
    for param in (*ins, *outs):
        p = signature.parameters.get(param)
        if p is None:
            raise TypeError(
                f"{fn.__name__}() has no parameter {param!r} for the declared artifact; "
                f"add it to the signature (it is injected at run time)"
            )
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"artifact parameter {param!r} cannot be *args or **kwargs")
    for param, ref in ins.items():
        if not isinstance(ref, str):
            raise TypeError(f"inputs[{param!r}] must be a ref string like 'bike-dataset:latest'")
        parse_ref(ref)  # validate now: a typo fails at import, not in the middle of a flow
    for param, out in outs.items():
        parse_ref(out.name)
        if ":" in out.name:
            raise ValueError(
                f"outputs[{param!r}] = {out.name!r}: give a collection name without a selector; "
                "use Output(name, aliases=[...]) to set aliases"
            )
    return _Spec(fn=fn, inputs=ins, outputs=outs, registry=registry, signature=signature)


def _public_signature(spec: _Spec) -> inspect.Signature:
    hidden = set(spec.inputs) | set(spec.outputs)
    params = [p for name, p in spec.signature.parameters.items() if name not in hidden]
    return spec.signature.replace(parameters=params)


# ---------------------------------------------------------------------------------------------
# resolution and reporting helpers


def _flow_run_id() -> str | None:
    ctx = TaskRunContext.get()
    if ctx is not None and ctx.task_run.flow_run_id is not None:
        return str(ctx.task_run.flow_run_id)
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return str(flow_ctx.flow_run.id)
    return None


def _resolve(reg: Registry, ref: str, flow_run_id: str | None) -> Any:
    """Resolve ``ref``, pinning ``latest`` to the version logged earlier in this flow run."""
    parsed = parse_ref(ref, default_project=reg.default_project)
    if parsed.is_latest and flow_run_id is not None:
        pinned = reg.produced_in(
            parsed.collection, orchestrator="prefect", pipeline_run=flow_run_id
        )
        if pinned is not None:
            return pinned
    return reg.get(str(parsed))


def asset_key(project: str, name: str) -> str:
    """The Prefect asset key of a collection: ``artiflow://<project>/<name>``.

    Example:
        >>> asset_key("default", "bike-dataset")
        'artiflow://default/bike-dataset'
    """
    return f"artiflow://{project}/{name}"


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


def _post_markdown(task_name: str, markdown: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    try:
        # No key: a keyed artifact also maintains a per-key history on the server, which made
        # the call ~30 ms slower on the test server (74 vs 44 ms). It stays on the task run.
        result = create_markdown_artifact(
            markdown=markdown,
            description=f"artiflow versions used and produced by {task_name}",
        )
        if inspect.isawaitable(result):  # pragma: no cover - depends on the calling context
            raise RuntimeError("create_markdown_artifact returned an awaitable")
    except Exception:
        logger.warning("could not create the artiflow Prefect artifact", exc_info=True)


def _report_markdown(task_name: str, markdown: str) -> None:
    """Post the task run's markdown artifact in the background (an API round trip of 35-80 ms
    that the task need not wait for). The task run's context is copied, so the artifact still
    lands on this task run; ``flush_events()`` and interpreter exit wait for pending posts."""
    context = contextvars.copy_context()
    _PENDING.append(_reporter().submit(context.run, _post_markdown, task_name, markdown))


_PENDING: list[Any] = []
_REPORTER: Any = None


def _reporter() -> Any:
    global _REPORTER
    if _REPORTER is None:
        from concurrent.futures import ThreadPoolExecutor

        _REPORTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="artiflow-prefect-report")
        atexit.register(flush_reports)
    return _REPORTER


def flush_reports(timeout: float | None = 30.0) -> None:
    """Wait until the task runs' markdown artifacts are posted (called by ``flush_events``)."""
    from concurrent.futures import wait

    pending, _PENDING[:] = list(_PENDING), []
    if pending:
        wait(pending, timeout=timeout)


def _report_assets(used: Mapping[str, Any], produced: Mapping[str, Any]) -> None:
    """Report outputs as materialized Prefect assets (version in the metadata), inputs as deps."""
    try:
        from prefect.assets import Asset
        from prefect.context import AssetContext
    except ImportError:  # prefect < 3.4.5
        return
    ctx = AssetContext.get()
    if ctx is None:
        return
    try:
        for v in used.values():
            ctx.direct_asset_dependencies.add(Asset(key=asset_key(v.project, v.collection)))
        for v in produced.values():
            key = asset_key(v.project, v.collection)
            ctx.downstream_assets.add(Asset(key=key))
            ctx.add_asset_metadata(
                key,
                {
                    "artiflow.ref": v.ref,
                    "artiflow.version": v.version,
                    "artiflow.digest": v.digest,
                    "artiflow.aliases": list(v.aliases),
                },
            )
        if produced and ctx.materialized_by is None:
            ctx.materialized_by = "artiflow"
        ctx.update_tracked_assets()
    except Exception:
        logger.warning("could not report artiflow outputs as Prefect assets", exc_info=True)


# ---------------------------------------------------------------------------------------------
# one execution


class _Execution:
    """One try of an artifact task: start the registry run, inject, commit or fail."""

    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self.reg = spec.get_registry()
        task_ctx = TaskRunContext.get()
        flow_ctx = FlowRunContext.get()
        self.task_run = task_ctx.task_run if task_ctx is not None else None
        self.task_name = task_ctx.task.name if task_ctx is not None else spec.fn.__name__
        self.flow_name = flow_ctx.flow.name if flow_ctx is not None and flow_ctx.flow else None
        self.flow_run_id = _flow_run_id()
        self.used: dict[str, Any] = {}
        self.produced: dict[str, Any] = {}
        self.drafts: dict[str, Artifact] = {}
        self.run: Any = None
        self._tmp: Path | None = None

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        spec = self.spec
        bound = _public_signature(spec).bind(*args, **kwargs)
        info: dict[str, Any] = {}
        if self.task_run is not None:
            info = {"task_run_id": str(self.task_run.id), "task_run_name": self.task_run.name}
        self.run = self.reg.start_run(
            self.task_name,
            orchestrator="prefect",
            pipeline=self.flow_name,
            pipeline_run=self.flow_run_id,
            task=self.task_name,
            try_number=self.task_run.run_count if self.task_run is not None else 1,
            info=info,
        )
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="artiflow-prefect-"))
            values = dict(bound.arguments)
            for param, ref in spec.inputs.items():
                version = self.run.use(_resolve(self.reg, ref, self.flow_run_id))
                version.download(root=self._tmp / param)
                self.used[param] = values[param] = version
            for param, out in spec.outputs.items():
                draft = Artifact(
                    out.name, type=out.type, description=out.description, metadata=out.metadata
                )
                self.drafts[param] = values[param] = draft
        except BaseException as exc:
            self.fail(exc)
            raise
        ordered = {name: values[name] for name in spec.signature.parameters if name in values}
        full = inspect.BoundArguments(spec.signature, ordered)  # type: ignore[arg-type]
        full.apply_defaults()
        return full

    def commit(self) -> None:
        try:
            empty = [p for p, draft in self.drafts.items() if not draft.paths()]
            if empty:  # checked for all outputs before logging any of them
                raise ValueError(
                    f"{self.task_name}: output draft(s) {empty} are empty; add files to them "
                    "(nothing was logged)"
                )
            with forward_events(self.reg):
                # every output in one commit: all of them become visible, or none does
                params = list(self.drafts)
                items = [
                    (
                        self.drafts[p],
                        {
                            "aliases": tuple(self.spec.outputs[p].aliases),
                            "tags": tuple(self.spec.outputs[p].tags),
                        },
                    )
                    for p in params
                ]
                self.produced.update(zip(params, self.run.log_many(items), strict=True))
            self.run.finish("SUCCESS")
        except BaseException as exc:
            self.fail(exc)
            raise
        self._cleanup()
        _report_assets(self.used, self.produced)
        _report_markdown(
            self.task_name,
            _markdown(self.task_name, self.run.id, "SUCCESS", self.used, self.produced),
        )

    def fail(self, exc: BaseException) -> None:
        self._cleanup()
        if self.run is None:
            return
        try:
            self.run.finish("FAILED", error=f"{type(exc).__name__}: {exc}")
        except Exception:
            logger.warning("could not record the failed artiflow run", exc_info=True)
        _report_markdown(
            self.task_name, _markdown(self.task_name, self.run.id, "FAILED", self.used, {})
        )
        self.run = None

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


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
        reg = self.spec.get_registry()
        flow_run_id = str(task_ctx.task_run.flow_run_id) if task_ctx.task_run.flow_run_id else None
        h = hashlib.sha256()
        try:
            for param, ref in sorted(self.spec.inputs.items()):
                v = _resolve(reg, ref, flow_run_id)
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
    reg = spec.get_registry()
    flow_ctx = FlowRunContext.get()
    flow_run_id = str(task_run.flow_run_id) if task_run.flow_run_id else None
    with reg.run(
        task.name,
        orchestrator="prefect",
        pipeline=flow_ctx.flow.name if flow_ctx is not None and flow_ctx.flow else None,
        pipeline_run=flow_run_id,
        task=task.name,
        try_number=task_run.run_count,
        info={
            "task_run_id": str(task_run.id),
            "task_run_name": task_run.name,
            "cached": True,
            "outputs_not_logged": [o.name for o in spec.outputs.values()],
        },
    ) as run:
        used = {p: run.use(_resolve(reg, ref, flow_run_id)) for p, ref in spec.inputs.items()}
    from prefect.logging import get_logger

    get_logger("artiflow.prefect").warning(
        "task %r restored its result from the Prefect cache: artiflow recorded run %s with "
        "its inputs but logged no new version of %s (the run that computed the cached "
        "result logged them)",
        task.name,
        run.id,
        ", ".join(o.name for o in spec.outputs.values()) or "nothing",
    )
    _report_markdown(task.name, _markdown(task.name, run.id, "CACHED", used, {}))


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


class ArtifactTask(Task):  # type: ignore[type-arg]
    """The ``prefect.Task`` that :func:`artifact_task` returns.

    Only ``with_options`` differs: a copy that turns caching on gets the same protection as a
    task declared with a cache policy (input versions in the key, cache hits recorded).

    Example:
        >>> @artifact_task(outputs={"out": "numbers"})
        ... def make(out):
        ...     pass
        >>> isinstance(make.with_options(retries=1), ArtifactTask)
        True
    """

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        new: Any = super().with_options(*args, **kwargs)
        new.__class__ = type(self)
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
    **task_options: Any,
) -> Any:
    """Make ``fn`` a Prefect task whose artifact parameters are injected and versioned.

    ``inputs`` maps parameter names to refs (``{"raw": "bike-dataset:latest"}``); the function
    receives an :class:`~artiflow.ArtifactVersion` whose ``local_path`` holds the downloaded
    files (a temporary folder, removed when the task ends). ``outputs`` maps parameter names to
    collection names or :class:`~artiflow.Output`; the function receives an empty
    :class:`~artiflow.Artifact` draft to fill, logged only if the function returns. Callers pass
    only the other parameters. ``registry`` is a :class:`~artiflow.Registry`, a callable
    returning one, or None for ``Registry()`` (from ``ARTIFLOW_*``), built in the task process.

    Every other keyword goes to :func:`prefect.task` (``retries``, ``timeout_seconds``,
    ``tags``, ``on_failure``, ...). Caching: the default is ``cache_policy=NO_CACHE``, because a
    cached state skips the function and so would skip logging. If you pass a ``cache_policy``
    or ``cache_key_fn``, artiflow adds :class:`ArtifactInputsPolicy` to it (a new input version
    is a cache miss) and, on a cache hit, records a registry run marked ``cached`` with the
    inputs it stood for, logs a warning and writes the Prefect artifact: nothing is skipped
    silently.

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
            artifact_task, inputs=inputs, outputs=outputs, registry=registry, **task_options
        )
    spec = _build_spec(fn, inputs, outputs, registry)
    return ArtifactTask(fn=_make_wrapper(spec), **_task_options(spec, task_options))


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
    for ref in refs.values():
        parse_ref(ref)
    new_spec = replace(spec, inputs={**spec.inputs, **refs})
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
