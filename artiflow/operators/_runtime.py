"""The Airflow adapter of the task runtime (:mod:`artiflow._tasking`).

:class:`TaskArtifacts` translates an Airflow task-instance try (DAG run, task id, try number, map
index, worker host, upstream task ids by DAG edges) into the shared
:class:`~artiflow._tasking.TaskExecution`, and adds what only Airflow has: the XCom payload and
the asset-event extras of the try's outlets.

1. ``open()`` starts the registry run, resolves (same-run pinning: an upstream task's version in
   this DAG run), records and downloads the inputs, and creates one draft per output;
2. the caller runs the user's code;
3. ``commit()`` logs the drafts in one transaction (or, in a mapped instance, adds them to the
   DAG run's collaborative version), only when the code returned;
4. ``publish()`` pushes the XCom and sets the asset-event extras; ``close()`` finishes the run
   (SUCCESS, FAILED or SKIPPED) and removes the downloaded inputs.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from artiflow._tasking import (
    PipelineRun,
    TaskContext,
    TaskExecution,
    UpstreamTasks,
    current_execution,
)
from artiflow.refs import parse_ref

from ._pins import replay_source, trigger_pins
from ._registry import get_registry, registry_identity
from ._specs import normalize_outputs
from .assets import (
    alias_uri,
    artifact_uri,
    event_extra,
    is_artifact_alias,
    same_asset,
    split_uri,
)

if TYPE_CHECKING:
    from artiflow import ArtifactVersion, Registry

__all__ = [
    "XCOM_KEY",
    "TaskArtifacts",
    "current_task_artifacts",
    "declared_outputs",
    "distributed_id",
    "use_artifact",
]

log = logging.getLogger(__name__)

#: XCom key under which artifact tasks publish the refs they used and produced.
XCOM_KEY = "artiflow"
ORCHESTRATOR = "airflow"


def current_task_artifacts() -> TaskArtifacts:
    """The artifact bookkeeping of the artifact-aware task running in this context.

    Example:
        >>> current_task_artifacts()  # doctest: +SKIP
        <TaskArtifacts ...>
    """
    ex = current_execution()
    if not isinstance(ex, TaskArtifacts):
        raise RuntimeError("the artifact task running here is not an Airflow task")
    return ex


def use_artifact(ref: str, *, download: bool = True) -> ArtifactVersion:
    """Use one more artifact from inside an artifact-aware task, decided at run time.

    The ref is resolved like a declared input (same-run pinning), recorded as used by this
    try's run, and downloaded (``.local_path`` set) unless ``download=False``.

    Example:
        >>> @artifact_task(inputs={"model": "bike-model"})  # doctest: +SKIP
        ... def evaluate(model):
        ...     data = use_artifact(model.metadata["trained_on"])
    """
    return current_task_artifacts().use(ref, download=download)


def distributed_id(dag_id: str, run_id: str, task_id: str, output: str, generation: int = 0) -> str:
    """The collaborative-version id shared by all mapped instances of one task in one DAG run.

    ``generation`` counts the collaborative versions of that task and output in the DAG run:
    0 for the first; after it was committed, a clear of the mapped task makes its new tries
    write generation 1, and so on (see :meth:`TaskArtifacts.commit`). Generation 0 keeps the
    id artiflow always used.

    Example:
        >>> distributed_id("d", "r", "t", "out") == distributed_id("d", "r", "t", "out")
        True
        >>> distributed_id("d", "r", "t", "out") != distributed_id("d", "r", "t", "out", 1)
        True
    """
    key = f"{dag_id}\x00{run_id}\x00{task_id}\x00{output}"
    if generation:
        key += f"\x00{int(generation)}"
    h = hashlib.sha256(key.encode()).hexdigest()
    return f"airflow-{h[:40]}"


#: how many collaborative versions one mapped task may build in one DAG run (clears)
MAX_GENERATIONS = 1000


def declared_outputs(task: Any) -> list[Mapping[str, Any]]:
    """The output declarations of any task of a DAG (decorated, classic, mapped or not).

    Example:
        >>> declared_outputs(object())
        []
    """
    outs = getattr(task, "artiflow_outputs", None)
    if outs is None:
        partial = getattr(task, "partial_kwargs", None)  # a MappedOperator
        if isinstance(partial, Mapping):
            outs = partial.get("artiflow_outputs") or partial.get("outputs")
            if isinstance(outs, Mapping) and not _looks_like_output_spec(outs):
                try:  # a classic operator mapped with .partial(outputs=...): raw declarations
                    outs = normalize_outputs(outs)
                except (TypeError, ValueError):
                    outs = None
    if not isinstance(outs, Mapping):
        return []
    return [o for o in outs.values() if isinstance(o, Mapping) and "name" in o]


def _looks_like_output_spec(outs: Any) -> bool:
    return isinstance(outs, Mapping) and all(
        isinstance(v, Mapping) and "name" in v for v in outs.values()
    )


def worker_host() -> str:
    """The host a task runs on: the Celery worker's name (``w1@host``) under the
    CeleryExecutor, else the machine's host name.

    Example:
        >>> isinstance(worker_host(), str)
        True
    """
    try:
        from celery import current_task  # only present where the Celery provider is installed

        request = getattr(current_task, "request", None) if current_task else None
        hostname = getattr(request, "hostname", None)
        if isinstance(hostname, str) and hostname:
            return hostname[:255]
    except Exception:  # no Celery, or not inside a Celery task
        pass
    return socket.gethostname()


def airflow_run_name(
    dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int | None
) -> str:
    """The registry run name of a try, as people know it in Airflow: DAG, task, map index,
    DAG run id and try.

    Example:
        >>> airflow_run_name("nightly", "manual__2026-01-02", "stats", 2, 3)
        'nightly.stats[3] @ manual__2026-01-02 (try 2)'
        >>> airflow_run_name("nightly", "manual__2026-01-02", "build", 1, -1)
        'nightly.build @ manual__2026-01-02 (try 1)'
    """
    index = f"[{map_index}]" if map_index is not None and map_index >= 0 else ""
    name = f"{dag_id}.{task_id}{index} @ {run_id} (try {try_number})"
    return name if len(name) <= 255 else name[:252] + "..."


def airflow_task_context(
    context: Mapping[str, Any] | None,
    ti: Any,
    *,
    run_name: str | None = None,
    info: Mapping[str, Any] | None = None,
    upstream: Any = None,
    conn_id: str | None = None,
) -> TaskContext:
    """The runtime's :class:`~artiflow._tasking.TaskContext` of an Airflow task instance.

    Besides the DAG run, task, try, map index and worker host, it carries what the DAG run was
    started for (:mod:`artiflow.operators._pins`): ``trigger_pins`` from the triggering
    artiflow asset events (the newest version per collection; every triggering version is in
    ``info["triggered_by"]``), and ``replay_of`` from ``conf["artiflow_lock"]``. The run info
    also records the DAG run's ``clear_number`` (how often it was cleared).
    """
    ctx: Mapping[str, Any] = context or {}
    map_index = getattr(ti, "map_index", -1)
    map_index = int(map_index if map_index is not None else -1)
    try_number = int(getattr(ti, "try_number", 1) or 1)
    run_info = dict(info or {})
    triggers = trigger_pins(
        ctx.get("triggering_asset_events"), registry=lambda: registry_identity(conn_id)
    )
    if triggers.events:
        run_info["triggered_by"] = triggers.events
        run_info["trigger_pins"] = dict(triggers.pins)
    dag_run = ctx.get("dag_run")
    replay = replay_source(getattr(dag_run, "conf", None) or {})
    if replay is not None:
        run_info["replay_of"] = replay
    clears = clear_number(ctx)
    if clears:
        run_info["clear_number"] = clears
    return TaskContext(
        ORCHESTRATOR,
        pipeline=ti.dag_id,
        pipeline_run=ti.run_id,
        task=ti.task_id,
        run_name=run_name
        or airflow_run_name(ti.dag_id, ti.run_id, ti.task_id, try_number, map_index),
        try_number=try_number,
        map_index=map_index,
        host=worker_host(),
        info=run_info,
        upstream=upstream,
        trigger_pins=dict(triggers.pins),
        replay_of=(PipelineRun(ORCHESTRATOR, ti.dag_id, replay) if replay is not None else None),
    )


def clear_number(context: Mapping[str, Any] | None) -> int:
    """How often the DAG run of ``context`` was cleared (``dag_run.clear_number``; 0 if unknown).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> clear_number({"dag_run": NS(clear_number=2)}), clear_number({})
        (2, 0)
    """
    dag_run = (context or {}).get("dag_run")
    try:
        return int(getattr(dag_run, "clear_number", 0) or 0)
    except (TypeError, ValueError):
        return 0


class TaskArtifacts(TaskExecution):
    """Artifact bookkeeping for one task-instance try (see the module docstring).

    Example (inside an operator's ``execute``):
        >>> def execute(self, context):  # doctest: +SKIP
        ...     with TaskArtifacts(self, context, inputs={"raw": "ds"}, outputs={}) as ta:
        ...         ta.open()
        ...         do_work(ta.inputs["raw"].local_path)
        ...         ta.commit()
    """

    def __init__(
        self,
        operator: Any,
        context: Mapping[str, Any],
        *,
        inputs: Mapping[str, str],
        outputs: Mapping[str, Mapping[str, Any]],
        collaborative: bool = False,
        download: bool = True,
        run_name: str | None = None,
        registry: Registry | None = None,
        info: Mapping[str, Any] | None = None,
        conn_id: str | None = None,
    ) -> None:
        self.operator = operator
        #: the Airflow connection of the registry (None: the default, see ``_registry``)
        self.conn_id = (
            conn_id if conn_id is not None else getattr(operator, "artiflow_conn_id", None)
        )
        self.context = context
        ti = context["ti"]
        task_context = airflow_task_context(
            context,
            ti,
            run_name=run_name,
            info={"operator": type(operator).__name__, **dict(info or {})},
            upstream=UpstreamTasks(self.upstream_producers),
            conn_id=self.conn_id,
        )
        super().__init__(
            task_context,
            inputs=inputs,
            outputs=outputs,
            registry=registry if registry is not None else self._connected_registry,
            download=download,
            collaborative=collaborative,
            collect_events=True,
        )
        self.dag_id: str = ti.dag_id
        self.run_id: str = ti.run_id
        self.task_id: str = ti.task_id
        self.try_number: int = task_context.try_number
        self.map_index: int = -1 if task_context.map_index is None else task_context.map_index
        #: collaborative generation / files of each output part this try upserted
        self.generations: dict[str, int] = {}
        self.part_files: dict[str, list[str]] = {}

    def _connected_registry(self) -> Registry:
        return get_registry(self.conn_id)

    def __repr__(self) -> str:
        return f"<TaskArtifacts {self.dag_id}/{self.run_id}/{self.task_id}[{self.map_index}]>"

    def upstream_producers(self, project: str, name: str) -> set[str]:
        """Ids of tasks upstream of this one (transitively) that declare ``project/name``."""
        op = self.operator
        dag = getattr(op, "dag", None)
        if dag is None:
            return set()
        found = set()
        for task_id in op.get_flat_relative_ids(upstream=True):
            try:
                task = dag.get_task(task_id)
            except Exception:  # pragma: no cover - task not in this DAG object
                continue
            for out in declared_outputs(task):
                r = parse_ref(out["name"], default_project=self.registry.default_project)
                if (r.project, r.name) == (project, name):
                    found.add(task_id)
        return found

    def commit(self, distributed_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Log every output draft (the code returned). Mapped instances upsert parts.

        A mapped instance adds its part to the first generation of the task's collaborative
        version (:func:`distributed_id`) that is not committed yet: normally generation 0; a
        try after the commit task committed it (the mapped task was cleared in a finished DAG
        run) moves on to a new generation, so the cleared tries assemble a NEW version, which
        the re-run commit task commits and downstream consumes. Retries of a failed instance
        before the commit join the pending generation of the other instances.
        """
        if not self.collaborative or distributed_ids is not None:
            return super().commit(distributed_ids)
        from artiflow.exceptions import ArtifactFinalizedError

        empty = [p for p, d in self.drafts.items() if not d.paths()]
        if empty:
            return super().commit({})  # raises the runtime's "output ... is empty" error
        self.start()
        for param, draft in self.drafts.items():
            for generation in range(MAX_GENERATIONS):
                did = distributed_id(self.dag_id, self.run_id, self.task_id, param, generation)
                try:
                    self.registry.upsert(draft, distributed_id=did)
                except ArtifactFinalizedError:
                    continue  # committed by an earlier commit task: the next generation
                self.parts[param] = did
                self.generations[param] = generation
                self.part_files[param] = sorted(draft.paths())
                break
            else:  # pragma: no cover - a thousand clears of one task in one DAG run
                raise ArtifactFinalizedError(
                    f"{self.task_id}: {MAX_GENERATIONS} collaborative versions of output "
                    f"{param!r} were committed in DAG run {self.run_id}; trigger a new DAG run"
                )
        return self.produced

    def close(self, error: BaseException | str | None = None, *, skipped: bool = False) -> None:
        """Finish the run (SKIPPED for Airflow's skip exception) and clean up."""
        skipped = skipped or (isinstance(error, BaseException) and _is_skip(error))
        super().close(error, skipped=skipped)

    # -- Airflow side effects ----------------------------------------------------------------
    def xcom_payload(self) -> dict[str, Any]:
        """What the task publishes under the XCom key ``artiflow`` (JSON)."""
        return {
            "run": self.run.id if self.run is not None else None,
            "inputs": {p: v.ref for p, v in self.inputs.items()},
            "outputs": {p: v.ref for p, v in self.produced.items()},
            "parts": dict(self.parts),
            "generations": dict(self.generations),
            "files": dict(self.part_files),
        }

    def publish(self) -> None:
        """Push the XCom payload and set asset-event extras from this try's registry events.

        Declared artiflow Asset outlets for which nothing happened (no new version, no alias
        move) are left out of this try's outlets, so no empty asset event is emitted for them
        (Airflow emits one for every declared Asset outlet). Assets known only at run time go
        through the task's :func:`~artiflow.operators.assets.artifact_alias` outlets.
        """
        ti = self.context["ti"]
        ti.xcom_push(key=XCOM_KEY, value=self.xcom_payload())
        self.emit_asset_events()

    def emit_asset_events(self) -> set[str]:
        """Turn registry events of this try (new versions, alias moves, quarantines and releases,
        overdue aliases)
        into extras on the declared artiflow outlets, and
        into ``outlet_events[alias].add(Asset(uri), extra=...)`` on the task's artiflow
        AssetAliases for the assets no declared outlet names (run-time assets)."""
        op = self.operator
        outlets = list(getattr(op, "outlets", None) or [])
        declared = [o for o in outlets if split_uri(getattr(o, "uri", ""))]
        aliases = [o for o in outlets if is_artifact_alias(o)]
        extras: dict[str, dict[str, Any]] = {}
        run_id = self.run.id if self.run is not None else None
        ident = registry_identity(self.conn_id)
        for ev in self.events:
            if getattr(ev, "run_id", None) not in (None, run_id) or ev.version is None:
                continue  # another run's event (a thread sharing the registry), or an unalias
            collection = f"{ev.project}/{ev.name}"
            if ev.kind == "version.created":
                extras[artifact_uri(collection, registry=ident)] = event_extra(
                    ev, run_id=run_id, registry=ident
                )
                for a in ev.aliases or ():
                    if a != "latest":
                        extras[alias_uri(collection, a, registry=ident)] = event_extra(
                            ev, alias=a, run_id=run_id, registry=ident
                        )
            elif ev.kind == "alias.moved" and ev.alias:
                extras[alias_uri(collection, ev.alias, registry=ident)] = event_extra(
                    ev, alias=ev.alias, previous=ev.previous, run_id=run_id, registry=ident
                )
            elif ev.kind == "alias.overdue" and ev.alias:
                # a freshness check run by this try's code (``registry.overdue(emit=True)``):
                # an event on the alias's asset, with its age and maximum age
                extras[alias_uri(collection, ev.alias, registry=ident)] = {
                    **event_extra(ev, alias=ev.alias, run_id=run_id, registry=ident),
                    "kind": ev.kind,
                    **{
                        k: v
                        for k, v in (getattr(ev, "details", None) or {}).items()
                        if k in ("age_s", "max_age_s", "committed_at")
                    },
                }
            elif ev.kind in ("version.quarantined", "version.released"):
                # a quarantine (or release) made by this try's code: an event on the asset of
                # every affected collection, saying which root, why, by whom, and what it taints
                details = dict(getattr(ev, "details", None) or {})
                extras[artifact_uri(collection, registry=ident)] = {
                    **event_extra(ev, run_id=run_id, registry=ident),
                    "kind": ev.kind,
                    "root": details.get("root"),
                    "reason": details.get("reason"),
                    "by": details.get("by"),
                    "affected": list(details.get("affected") or []),
                }
        emitted: set[str] = set()
        outlet_events = self.context.get("outlet_events")
        for uri, extra in extras.items():
            assets = [o for o in declared if same_asset(o.uri, uri)]
            if not assets:
                if uri.endswith("/alias/latest"):
                    continue
                if aliases and outlet_events is not None:
                    from airflow.sdk import Asset

                    for alias in aliases:  # a run-time asset, through the AssetAlias
                        outlet_events[alias].add(Asset(uri), extra=extra)
                    emitted.add(uri)
                else:
                    log.info(
                        "artiflow: no outlet declared for %s (declare it, or add "
                        "artifact_alias() to the outlets); no asset event",
                        uri,
                    )
                continue
            for asset in assets:
                if outlet_events is not None:
                    outlet_events[asset].extra.update(extra)
                emitted.add(asset.uri)
        op.outlets = [o for o in outlets if o not in declared or o.uri in emitted]
        return emitted


def _is_skip(error: BaseException) -> bool:
    return any(c.__name__ == "AirflowSkipException" for c in type(error).__mro__)
