"""What an artifact-aware task does around the user's code, at execution time.

:class:`TaskArtifacts` is shared by the ``@artifact_task`` decorator and the classic operators:

1. ``open()`` starts a registry run for this task-instance try, resolves every input (same-run
   pinning, see :meth:`TaskArtifacts.resolve`), records it as used and downloads it, and creates
   one empty draft per output;
2. the caller runs the user's code;
3. ``commit()`` logs the drafts (or, in a mapped instance, adds them to the DAG run's
   collaborative version), only when the code returned;
4. ``close()`` finishes the run (SUCCESS or FAILED), turns the registry events of this try into
   asset-event extras, and removes the downloaded inputs.

Nothing is written to the registry when the code raises: the drafts are simply dropped.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import socket
import tempfile
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artiflow.refs import parse_ref

from ._registry import get_registry
from ._specs import normalize_outputs
from .assets import alias_uri, artifact_uri, event_extra, split_uri

if TYPE_CHECKING:
    from artiflow import Artifact, ArtifactVersion, Registry

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

_CURRENT: ContextVar[TaskArtifacts | None] = ContextVar("artiflow_task", default=None)


def current_task_artifacts() -> TaskArtifacts:
    """The artifact bookkeeping of the artifact-aware task running in this context.

    Example:
        >>> current_task_artifacts()  # doctest: +SKIP
        <TaskArtifacts ...>
    """
    ta = _CURRENT.get()
    if ta is None:
        raise RuntimeError(
            "no artifact-aware task is running here: call this inside an @artifact_task "
            "function or an artifact operator's execute"
        )
    return ta


def use_artifact(ref: str, *, download: bool = True) -> ArtifactVersion:
    """Use one more artifact from inside an artifact-aware task, decided at run time.

    The ref is resolved like a declared input (same-run pinning), recorded as used by this
    try's run, and downloaded (``.local_path`` set) unless ``download=False``.

    Example:
        >>> @artifact_task(inputs={"model": "bike-model"})  # doctest: +SKIP
        ... def evaluate(model):
        ...     data = use_artifact(model.metadata["trained_on"])
    """
    ta = current_task_artifacts()
    version = ta.run.use(ta.resolve(ref))
    if download:
        version.download(ta._tmpdir() / f"extra-{len(ta.inputs)}")
    ta.inputs[f"use:{ref}"] = version
    return version


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


class TaskArtifacts:
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
        self.input_spec: dict[str, str] = dict(inputs)
        self.output_spec: dict[str, Mapping[str, Any]] = dict(outputs)
        self.collaborative = collaborative
        self.download = download
        ti = context["ti"]
        self.dag_id: str = ti.dag_id
        self.run_id: str = ti.run_id
        self.task_id: str = ti.task_id
        self.try_number: int = int(getattr(ti, "try_number", 1) or 1)
        self.map_index: int = int(getattr(ti, "map_index", -1) if ti.map_index is not None else -1)
        self.run_name = run_name or self.task_id
        self._registry = registry
        self.run: Any = None
        self.inputs: dict[str, ArtifactVersion] = {}
        self.drafts: dict[str, Artifact] = {}
        self.produced: dict[str, ArtifactVersion] = {}
        self.parts: dict[str, str] = {}
        self.events: list[Any] = []
        self._unsubscribe: Any = None
        self._tmp: Path | None = None
        self.state: str | None = None
        self._token: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The registry of this task (created lazily from the environment)."""
        if self._registry is None:
            self._registry = get_registry()
        return self._registry

    def __enter__(self) -> TaskArtifacts:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)

    def start(self) -> None:
        """Start the registry run of this try and listen to the registry's events."""
        reg = self.registry
        self._unsubscribe = reg.subscribe(self.events.append)
        self.run = reg.start_run(
            self.run_name,
            orchestrator=ORCHESTRATOR,
            pipeline=self.dag_id,
            pipeline_run=self.run_id,
            task=self.task_id,
            try_number=self.try_number,
            map_index=self.map_index,
            host=socket.gethostname(),
            info={"operator": type(self.operator).__name__},
        )

    def open(self) -> None:
        """Start the run, resolve + download the inputs and create the output drafts."""
        from artiflow import Artifact

        if self.run is None:
            self.start()
        self._token = _CURRENT.set(self)
        for param, ref in self.input_spec.items():
            version = self.resolve(ref)
            version = self.run.use(version)
            if self.download:
                version.download(self._tmpdir() / param)
            self.inputs[param] = version
        for param, out in self.output_spec.items():
            self.drafts[param] = Artifact(
                out["name"],
                type=out.get("type") or "dataset",
                description=out.get("description"),
                metadata=dict(out.get("metadata") or {}),
            )

    def resolve(self, ref: str) -> ArtifactVersion:
        """Resolve an input ref, pinning ``name`` / ``name:latest`` to this DAG run.

        When the collection is an output of a task upstream of this one (transitively, by DAG
        edges), the version that upstream task produced in this DAG run is used, even if
        another run logged a newer version meanwhile. Explicit aliases and ``vN`` resolve
        globally.
        """
        reg = self.registry
        r = parse_ref(ref, default_project=reg.default_project)
        if r.is_latest:
            producers = self.upstream_producers(r.project, r.name)
            if producers:
                version = reg.produced_in(
                    f"{r.project}/{r.name}",
                    orchestrator=ORCHESTRATOR,
                    pipeline=self.dag_id,
                    pipeline_run=self.run_id,
                    tasks=sorted(producers),
                )
                if version is not None:
                    log.info("artiflow: %s pinned to %s (same DAG run)", ref, version.ref)
                    return version
                log.warning(
                    "artiflow: upstream tasks %s declare %s as an output but logged no version "
                    "in DAG run %s; falling back to %s",
                    sorted(producers),
                    r.collection,
                    self.run_id,
                    r,
                )
        return reg.get(str(r))

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

    def commit(self) -> dict[str, ArtifactVersion]:
        """Log every output draft (the user's code returned). Mapped instances upsert parts."""
        for param, draft in self.drafts.items():
            out = self.output_spec[param]
            if _is_empty(draft):
                raise ValueError(
                    f"output {param!r} ({out['name']}) is empty: add files to the draft "
                    "(draft.add_file / add_dir / new_file) or remove it from outputs"
                )
        if self.collaborative:
            for param, draft in self.drafts.items():
                did = distributed_id(self.dag_id, self.run_id, self.task_id, param)
                self.registry.upsert(draft, distributed_id=did)
                self.parts[param] = did
            return self.produced
        # every output in one commit: all of them become visible, or none does
        params = list(self.drafts)
        items = [
            (
                self.drafts[param],
                {
                    "aliases": tuple(self.output_spec[param].get("aliases") or ()),
                    "tags": tuple(self.output_spec[param].get("tags") or ()),
                },
            )
            for param in params
        ]
        self.produced.update(zip(params, self.run.log_many(items), strict=True))
        return self.produced

    def close(self, error: BaseException | None = None) -> None:
        """Finish the run, release the subscription and remove the downloaded inputs."""
        try:
            if self.run is not None and self.state is None:
                if error is None:
                    self.state = "SUCCESS"
                    self.run.finish("SUCCESS")
                elif _is_skip(error):
                    self.state = "SKIPPED"
                    self.run.finish("SKIPPED", error=str(error)[:4000])
                else:
                    self.state = "FAILED"
                    self.run.finish("FAILED", error=f"{type(error).__name__}: {error}"[:4000])
        finally:
            if self._token is not None:
                _CURRENT.reset(self._token)
                self._token = None
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

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
        declared = {getattr(o, "uri", None): o for o in outlets if split_uri(getattr(o, "uri", ""))}
        extras: dict[str, dict[str, Any]] = {}
        run_id = self.run.id if self.run is not None else None
        for ev in self.events:
            if getattr(ev, "run_id", None) not in (None, run_id) or ev.version is None:
                continue  # another run's event (a thread sharing the registry), or an unalias
            base = artifact_uri(f"{ev.project}/{ev.name}")
            if ev.kind == "version.created":
                extras[base] = event_extra(ev, run_id=run_id)
                for a in ev.aliases or ():
                    if a != "latest":
                        extras[alias_uri(f"{ev.project}/{ev.name}", a)] = event_extra(
                            ev, alias=a, run_id=run_id
                        )
            elif ev.kind == "alias.moved" and ev.alias:
                extras[alias_uri(f"{ev.project}/{ev.name}", ev.alias)] = event_extra(
                    ev, alias=ev.alias, previous=ev.previous, run_id=run_id
                )
        emitted = set()
        outlet_events = self.context.get("outlet_events")
        for uri, extra in extras.items():
            asset = declared.get(uri)
            if asset is None:
                if not uri.endswith("/alias/latest"):
                    log.info("artiflow: no outlet declared for %s; no asset event", uri)
                continue
            if outlet_events is not None:
                outlet_events[asset].extra.update(extra)
            emitted.add(uri)
        op.outlets = [
            o for o in outlets if getattr(o, "uri", None) not in declared or o.uri in emitted
        ]
        return emitted

    def _tmpdir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix=f"artiflow-{self.task_id}-"))
        return self._tmp


def _is_skip(error: BaseException) -> bool:
    return any(c.__name__ == "AirflowSkipException" for c in type(error).__mro__)


def _is_empty(draft: Any) -> bool:
    paths = getattr(draft, "paths", None)
    return callable(paths) and len(paths()) == 0
