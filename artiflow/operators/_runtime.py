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

from artiflow._tasking import TaskContext, TaskExecution, UpstreamTasks, current_execution
from artiflow.refs import parse_ref

from ._registry import get_registry
from ._specs import normalize_outputs
from .assets import alias_uri, artifact_uri, event_extra, same_asset, split_uri

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


def distributed_id(dag_id: str, run_id: str, task_id: str, output: str) -> str:
    """The collaborative-version id shared by all mapped instances of one task in one DAG run.

    Example:
        >>> distributed_id("d", "r", "t", "out") == distributed_id("d", "r", "t", "out")
        True
    """
    h = hashlib.sha256(f"{dag_id}\x00{run_id}\x00{task_id}\x00{output}".encode()).hexdigest()
    return f"airflow-{h[:40]}"


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


def airflow_task_context(
    context: Mapping[str, Any] | None,
    ti: Any,
    *,
    run_name: str | None = None,
    info: Mapping[str, Any] | None = None,
    upstream: Any = None,
) -> TaskContext:
    """The runtime's :class:`~artiflow._tasking.TaskContext` of an Airflow task instance."""
    map_index = getattr(ti, "map_index", -1)
    return TaskContext(
        ORCHESTRATOR,
        pipeline=ti.dag_id,
        pipeline_run=ti.run_id,
        task=ti.task_id,
        run_name=run_name or ti.task_id,
        try_number=int(getattr(ti, "try_number", 1) or 1),
        map_index=int(map_index if map_index is not None else -1),
        host=socket.gethostname(),
        info=dict(info or {}),
        upstream=upstream,
    )


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
    ) -> None:
        self.operator = operator
        self.context = context
        ti = context["ti"]
        task_context = airflow_task_context(
            context,
            ti,
            run_name=run_name,
            info={"operator": type(operator).__name__},
            upstream=UpstreamTasks(self.upstream_producers),
        )
        super().__init__(
            task_context,
            inputs=inputs,
            outputs=outputs,
            registry=registry if registry is not None else get_registry,
            download=download,
            collaborative=collaborative,
            collect_events=True,
        )
        self.dag_id: str = ti.dag_id
        self.run_id: str = ti.run_id
        self.task_id: str = ti.task_id
        self.try_number: int = task_context.try_number
        self.map_index: int = -1 if task_context.map_index is None else task_context.map_index

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
        """Log every output draft (the code returned). Mapped instances upsert parts."""
        if self.collaborative and distributed_ids is None:
            distributed_ids = {
                p: distributed_id(self.dag_id, self.run_id, self.task_id, p) for p in self.drafts
            }
        return super().commit(distributed_ids)

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
        }

    def publish(self) -> None:
        """Push the XCom payload and set asset-event extras from this try's registry events.

        Artiflow outlets for which nothing happened (no new version, no alias move) are removed
        from the task's outlets for this try, so no empty asset event is emitted for them.
        """
        ti = self.context["ti"]
        ti.xcom_push(key=XCOM_KEY, value=self.xcom_payload())
        self.emit_asset_events()

    def emit_asset_events(self) -> set[str]:
        """Turn registry events of this try into extras on the declared artiflow outlets."""
        op = self.operator
        outlets = list(getattr(op, "outlets", None) or [])
        declared = [o for o in outlets if split_uri(getattr(o, "uri", ""))]
        extras: dict[str, dict[str, Any]] = {}
        run_id = self.run.id if self.run is not None else None
        for ev in self.events:
            if getattr(ev, "run_id", None) not in (None, run_id) or ev.version is None:
                continue  # another run's event (a thread sharing the registry), or an unalias
            collection = f"{ev.project}/{ev.name}"
            if ev.kind == "version.created":
                extras[artifact_uri(collection)] = event_extra(ev, run_id=run_id)
                for a in ev.aliases or ():
                    if a != "latest":
                        extras[alias_uri(collection, a)] = event_extra(ev, alias=a, run_id=run_id)
            elif ev.kind == "alias.moved" and ev.alias:
                extras[alias_uri(collection, ev.alias)] = event_extra(
                    ev, alias=ev.alias, previous=ev.previous, run_id=run_id
                )
        emitted: set[str] = set()
        outlet_events = self.context.get("outlet_events")
        for uri, extra in extras.items():
            assets = [o for o in declared if same_asset(o.uri, uri)]
            if not assets:
                if not uri.endswith("/alias/latest"):
                    log.info("artiflow: no outlet declared for %s; no asset event", uri)
                continue
            for asset in assets:
                if outlet_events is not None:
                    outlet_events[asset].extra.update(extra)
                emitted.add(asset.uri)
        op.outlets = [o for o in outlets if o not in declared or o.uri in emitted]
        return emitted


def _is_skip(error: BaseException) -> bool:
    return any(c.__name__ == "AirflowSkipException" for c in type(error).__mro__)
