"""One try of an artifact task, whatever runs it (Airflow, Prefect, a test).

The integration translates its context into a :class:`TaskContext` (pipeline run, task, try,
map index, host, upstream) and drives one :class:`TaskExecution`:

1. :meth:`~TaskExecution.open` starts the registry run of this try, resolves every input through
   the pipeline run's :class:`~artiflow._tasking.resolver.Resolver`, records it as used,
   downloads it into a temporary folder, and creates one empty draft per output;
2. the integration runs the user's code with ``execution.inputs`` and ``execution.drafts``;
3. :meth:`~TaskExecution.commit` logs every output in one transaction (all or none), or, for a
   collaborative (mapped) task, adds each draft to its pending version;
4. :meth:`~TaskExecution.close` finishes the run (``SUCCESS``, ``FAILED`` with the error, or
   ``SKIPPED``), and removes the downloaded inputs.

Nothing is written to the registry when the code raises: the drafts are dropped.

Example:
    >>> import tempfile
    >>> from artiflow import Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> ctx = TaskContext("manual", pipeline="demo", pipeline_run="r1", task="make")
    >>> with TaskExecution(ctx, inputs={}, outputs={"out": "numbers"}, registry=reg) as ex:
    ...     ex.open()
    ...     with ex.drafts["out"].new_file("n.txt") as f:
    ...         _ = f.write("1 2 3")
    ...     produced = ex.commit()
    >>> produced["out"].ref, ex.state
    ('default/numbers:v0', 'SUCCESS')
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artiflow._ops import runs as _runs
from artiflow.runs import FAILED, SUCCESS

from .resolver import PipelineRun, Resolver, Upstream, resolver_for
from .spec import normalize_inputs, normalize_outputs

if TYPE_CHECKING:
    from artiflow import Artifact, ArtifactVersion, Registry, RegistryEvent, Run

__all__ = [
    "FAILED",
    "MAX_ERROR",
    "SKIPPED",
    "SUCCESS",
    "TaskContext",
    "TaskExecution",
    "current_execution",
    "error_text",
    "record_failed_try",
]

log = logging.getLogger(__name__)

#: the state of a run whose task was skipped by the orchestrator (Airflow's skip exception)
SKIPPED = "SKIPPED"
#: the longest error text recorded on a run
MAX_ERROR = 4000

_CURRENT: ContextVar[TaskExecution | None] = ContextVar("artiflow_task", default=None)


def current_execution() -> TaskExecution:
    """The artifact-task execution running in this context (raises outside of one).

    Example:
        >>> current_execution()  # doctest: +SKIP
        <TaskExecution ...>
    """
    ex = _CURRENT.get()
    if ex is None:
        raise RuntimeError(
            "no artifact-aware task is running here: call this inside an artifact task "
            "(the function of @artifact_task, or an artifact operator's execute)"
        )
    return ex


def error_text(error: BaseException | str | None, *, skipped: bool = False) -> str | None:
    """The error recorded on a run: ``Type: message`` (the message alone for a skip), cut to
    :data:`MAX_ERROR` characters.

    Example:
        >>> error_text(ValueError("bad"))
        'ValueError: bad'
    """
    if error is None:
        return None
    if isinstance(error, BaseException) and not skipped:
        text = f"{type(error).__name__}: {error}"
    else:
        text = str(error)
    return text[:MAX_ERROR]


@dataclass(frozen=True)
class TaskContext:
    """Where a try runs, in orchestrator-neutral terms (what the registry run records).

    The adapter contract — what each integration fills in, nothing else is its business:

    * ``orchestrator`` / ``pipeline`` / ``pipeline_run``: ``"airflow"``, the dag id, the DAG
      run id; ``"prefect"``, the flow name, the flow run id. They key the registry run AND the
      run lock (the version each ref resolved to first in that pipeline run);
    * ``upstream``: an :class:`~artiflow._tasking.resolver.Upstream` (Airflow DAG edges,
      Prefect futures / ``wait_for``): same-run pinning wins over everything else;
    * ``lock_parent``: the pipeline run whose lock this one shares — a Prefect subflow passes
      its root flow run (``PipelineRun("prefect", root flow name, root flow run id)``);
    * ``trigger_pins``: ``{"project/name": "project/name:vN"}`` from the triggering Airflow
      asset events (the newest when several were merged into one run) or the Prefect event;
    * ``replay_of``: the earlier pipeline run to replay (Airflow: ``PipelineRun("airflow",
      dag_id, dag_run.conf[artiflow._ops.replay.AIRFLOW_CONF_KEY])``; Prefect: from the
      replayed flow run's parameters). Every input resolves from that run's lock, and each
      committed output's digest is compared with the original's (``reproduced``).

    Example:
        >>> TaskContext("airflow", "nightly", "manual__1", "build", try_number=2).pipeline_key
        PipelineRun(orchestrator='airflow', pipeline='nightly', pipeline_run='manual__1')
    """

    orchestrator: str
    pipeline: str | None
    pipeline_run: str | None
    task: str
    run_name: str | None = None
    try_number: int = 1
    map_index: int | None = None
    host: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    upstream: Upstream | None = None
    #: the pipeline run whose lock this one shares (a subflow: its root flow run); None = its own
    lock_parent: PipelineRun | None = None
    #: the versions this pipeline run was started for, ``"project/name"`` -> ``"project/name:vN"``
    #: (the triggering asset events or Prefect event); they win over the run lock's first pick
    trigger_pins: Mapping[str, str] = field(default_factory=dict)
    #: resolve every input from this earlier pipeline run's lock (a replay)
    replay_of: PipelineRun | None = None

    @property
    def pipeline_key(self) -> PipelineRun:
        """The pipeline run this try belongs to (the key of its resolver)."""
        return PipelineRun(self.orchestrator, self.pipeline, self.pipeline_run)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:60] or "task"


class TaskExecution:
    """One try of an artifact task (see the module docstring).

    ``registry`` is a :class:`~artiflow.Registry` or a callable returning one (called when the
    registry is first needed, in the task process). With ``collect_events``, the registry
    events of the process between :meth:`start` and :meth:`close` are kept in ``events``.
    """

    def __init__(
        self,
        context: TaskContext,
        *,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        registry: Any,
        download: bool = True,
        collaborative: bool = False,
        collect_events: bool = False,
    ) -> None:
        self.task_context = context
        self.input_spec: dict[str, str] = normalize_inputs(inputs)
        self.output_spec: dict[str, dict[str, Any]] = normalize_outputs(outputs)
        self.download = download
        self.collaborative = collaborative
        self.collect_events = collect_events
        self._registry_source = registry
        self._registry: Registry | None = None
        self.run: Run | None = None
        self.inputs: dict[str, ArtifactVersion] = {}
        self.drafts: dict[str, Artifact] = {}
        self.produced: dict[str, ArtifactVersion] = {}
        self.parts: dict[str, str] = {}
        self.events: list[RegistryEvent] = []
        self.state: str | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tmp: Path | None = None
        self._token: Token[TaskExecution | None] | None = None

    def __repr__(self) -> str:
        c = self.task_context
        return f"<TaskExecution {c.orchestrator}:{c.pipeline}/{c.pipeline_run}/{c.task}>"

    # -- registry and resolution ---------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The registry of this task (created lazily, in the task process)."""
        if self._registry is None:
            from artiflow import Registry

            src = self._registry_source
            self._registry = src if isinstance(src, Registry) else src()
        return self._registry

    @property
    def resolver(self) -> Resolver:
        """The resolver of this try's pipeline run (every input resolution goes through it)."""
        return resolver_for(self.registry, self.task_context.pipeline_key)

    def resolve(self, ref: str) -> ArtifactVersion:
        """Resolve ``ref`` for this task: upstream pin > replay > trigger pin > run lock >
        registry (see :mod:`artiflow._tasking.resolver`)."""
        return self.resolver.resolve_for(self.task_context, ref)

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> TaskExecution:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)

    def start(self) -> Run:
        """Start the registry run of this try (idempotent)."""
        if self.run is None:
            run = self._new_run()
            self.registry.context.catalog.create_run(run.record)
            self.run = run
        return self.run

    def _new_run(self) -> Run:
        """The run of this try, checked but not recorded yet (the caller inserts it)."""
        reg = self.registry
        if self.collect_events and self._unsubscribe is None:
            self._unsubscribe = reg.subscribe(self.events.append)
        c = self.task_context
        return _runs.new_run(
            reg.context,
            c.run_name or c.task,
            orchestrator=c.orchestrator,
            pipeline=c.pipeline,
            pipeline_run=c.pipeline_run,
            task=c.task,
            try_number=c.try_number,
            map_index=c.map_index,
            host=c.host,
            info=dict(c.info),
        )

    def open(self) -> None:
        """Start the run, resolve + record + download the inputs, create the output drafts.

        The run row is written in the transaction of the first input's edges (one write
        instead of two); with no input, or when resolving the first one fails, it is written
        on its own before this returns or raises, so the run is always recorded."""
        from artiflow import Artifact

        unrecorded = self.run is None
        run = self.run = self._new_run() if self.run is None else self.run
        if self._token is None:
            self._token = _CURRENT.set(self)
        ctx = self.registry.context
        try:
            for param, ref in self.input_spec.items():
                version = self.resolve(ref)
                # the used edge + the alias it was read through (staleness), one transaction
                _runs.record_used(ctx, run, version, ref, insert=unrecorded)
                unrecorded = False
                if self.download:
                    version.download(self.tmpdir() / param)
                self.inputs[param] = version
        finally:
            if unrecorded:
                ctx.catalog.create_run(run.record)
        for param, out in self.output_spec.items():
            self.drafts[param] = Artifact(
                out["name"],
                type=out.get("type") or "dataset",
                description=out.get("description"),
                metadata=dict(out.get("metadata") or {}),
            )

    def use(self, ref: str, *, download: bool = True) -> ArtifactVersion:
        """Use one more artifact, decided at run time (resolved like a declared input)."""
        run = self.start()
        version = self.resolve(ref)
        _runs.record_used(self.registry.context, run, version, ref)  # edge + alias, one write
        if download:
            version.download(self.tmpdir() / f"extra-{len(self.inputs)}")
        self.inputs[f"use:{ref}"] = version
        return version

    def commit(self, distributed_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Log every output draft in one transaction (the user's code returned).

        A collaborative task adds each draft to the pending version ``distributed_ids[param]``
        instead (``Registry.upsert``); its commit task finishes them (:meth:`finish_parts`).
        Every draft is checked before anything is written: an empty one raises ``ValueError``.
        """
        empty = [p for p, d in self.drafts.items() if _is_empty(d)]
        if empty:
            which = "; ".join(
                f"output {p!r} ({self.output_spec[p]['name']}) is empty" for p in empty
            )
            raise ValueError(
                f"{self.task_context.task}: {which}: add files to the draft (draft.add_file / "
                "add_dir / new_file) or remove it from outputs; nothing was logged"
            )
        run = self.start()
        if self.collaborative:
            ids = dict(distributed_ids or {})
            for param, draft in self.drafts.items():
                self.registry.upsert(draft, distributed_id=ids[param])
                self.parts[param] = ids[param]
            return self.produced
        params = list(self.drafts)
        items = [(self.drafts[p], self._labels(p)) for p in params]
        logged = run.log_many(items)
        self.produced.update(zip(params, logged, strict=True))
        self._compare_replayed(logged)
        return self.produced

    def finish_parts(self, distributed_ids: Mapping[str, str]) -> dict[str, Any]:
        """Commit the collaborative versions ``{param: distributed id}`` (a mapped task's
        commit step); each is logged by this try's run."""
        from artiflow import Artifact

        run = self.start()
        for param, did in distributed_ids.items():
            out = self.output_spec[param]
            draft = Artifact(
                out["name"],
                type=out.get("type") or "dataset",
                description=out.get("description"),
                metadata=dict(out.get("metadata") or {}),
            )
            self.produced[param] = self.registry.finish(
                draft, distributed_id=did, run=run, **self._labels(param)
            )
        self._compare_replayed([self.produced[p] for p in distributed_ids])
        return self.produced

    def _compare_replayed(self, logged: list[ArtifactVersion]) -> None:
        """In a replay run, record per output whether it reproduced the original's digest
        (``replay_outputs``); a failure to record it is logged, the outputs stay committed."""
        c = self.task_context
        original = c.replay_of
        if original is None or original.pipeline_run is None:
            return
        key = c.lock_parent or c.pipeline_key
        if key.pipeline_run is None:
            return
        from artiflow._ops import locks

        for version in logged:
            try:
                out = locks.record_replay_output(
                    self.registry,
                    (key.orchestrator, key.pipeline, key.pipeline_run),
                    (original.orchestrator, original.pipeline, original.pipeline_run),
                    version,
                    c.task,
                )
                log.info(
                    "artiflow: replay output %s: reproduced %s",
                    version.ref,
                    "yes" if out.reproduced else "no",
                )
            except Exception:
                log.warning(
                    "artiflow: could not record the replay of %s", version.ref, exc_info=True
                )

    def _labels(self, param: str) -> dict[str, Any]:
        out = self.output_spec[param]
        return {"aliases": tuple(out.get("aliases") or ()), "tags": tuple(out.get("tags") or ())}

    def close(self, error: BaseException | str | None = None, *, skipped: bool = False) -> None:
        """Finish the run (``SUCCESS``, ``FAILED`` or, with ``skipped``, ``SKIPPED``) once,
        stop collecting events, and remove the downloaded inputs.

        When ``error`` is set, a failure to record it is logged, never raised over it.
        """
        try:
            if self.run is not None and self.state is None:
                state = SUCCESS if error is None else SKIPPED if skipped else FAILED
                self.state = state
                try:
                    self.run.finish(state, error=error_text(error, skipped=skipped))
                except Exception:
                    if error is None:
                        raise
                    log.warning("artiflow: could not record the %s run", state, exc_info=True)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Forget the current-task context, the event subscription and the downloads."""
        if self._token is not None:
            try:
                _CURRENT.reset(self._token)
            except ValueError:  # closed from another context (a thread): just clear it
                _CURRENT.set(None)
            self._token = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def tmpdir(self) -> Path:
        """The temporary folder of this try (inputs are downloaded below it)."""
        if self._tmp is None:
            c = self.task_context
            prefix = f"artiflow-{c.orchestrator}-{_slug(c.task)}-"
            self._tmp = Path(tempfile.mkdtemp(prefix=prefix))
        return self._tmp


def record_failed_try(
    context: TaskContext, registry: Registry, error: BaseException | str | None
) -> Run:
    """Record a FAILED run for a try that failed before its execution started.

    Example:
        >>> import tempfile
        >>> from artiflow import Registry
        >>> reg = Registry(home=tempfile.mkdtemp())
        >>> run = record_failed_try(TaskContext("airflow", "d", "r", "t"), reg, "boom")
        >>> run.state, run.error
        ('FAILED', 'boom')
    """
    ex = TaskExecution(context, inputs={}, outputs={}, registry=registry)
    run = ex.start()
    ex.close(error if error is not None else "failed")
    return run


def _is_empty(draft: Any) -> bool:
    paths = getattr(draft, "paths", None)
    return callable(paths) and len(paths()) == 0
