"""Resolution of a task's input refs, through ONE resolver per pipeline run.

Every input an artifact task resolves (declared inputs, ``use_artifact``, the cache key of an
opted-in Prefect cache) goes through :meth:`Resolver.resolve_for` (or :meth:`Resolver.resolve`)
of its pipeline run (a DAG run, a flow run). The first rule that applies wins:

1. **upstream pin** — ``name`` / ``name:latest`` whose collection an upstream task produced in
   this pipeline run resolves to that task's version, never to a newer version a concurrent
   run logged (not recorded in the lock: another task may have another upstream);
2. **replay** — with ``TaskContext.replay_of`` (Airflow: ``conf["artiflow_lock"]``), the version
   the ref is locked to in that earlier pipeline run's lock, however aliases moved since;
3. **trigger pin** — ``TaskContext.trigger_pins`` ``{"project/name": "project/name:vN"}`` (the
   asset events / Prefect event that started the run) pins every alias or ``latest`` of that
   collection; an explicit ``vN`` or semver is not overridden;
4. **run lock** — the version the same ref text resolved to first in this pipeline run (the
   lock of ``TaskContext.lock_parent`` when set: a Prefect subflow shares its root flow run's);
5. **registry** — ``Registry.get(ref)``, recorded in the run lock first-writer-wins: when two
   tasks race, both get the version whose entry landed first.

Rules 2, 3 and 5 record what they return in the run lock, so the lock of every pipeline run
says what each ref stood for in it (and a replay of a replay works). A task that runs outside
any pipeline run (``pipeline_run`` None) has no lock: it resolves in the registry.

What "upstream" means is the orchestrator's business, told by an :class:`Upstream`:

* :class:`UpstreamTasks` (Airflow): the task ids upstream of this one by DAG edges that declare
  the collection as an output; the version one of them logged in this DAG run;
* :class:`UpstreamTaskRuns` (Prefect): the task runs whose futures or results the task received
  or waited for (``wait_for``), and, through what their registry runs recorded, theirs; the
  version the nearest of them logged. When none of them produced the collection, the newest
  version logged earlier in the flow run (tasks called one after another, without data edges).

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("ds")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("a")
    >>> _ = reg.log(draft)
    >>> resolver_for(reg, PipelineRun("manual", None, None)).resolve("ds").version
    'v0'
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from artiflow._ops import locks
from artiflow._ops.quarantine import ensure_clean
from artiflow.exceptions import ArtifactNotFoundError
from artiflow.refs import Ref, is_semver, is_version_index, parse_ref

if TYPE_CHECKING:
    from artiflow import ArtifactVersion, Registry

    from .execution import TaskContext

__all__ = [
    "PipelineRun",
    "Resolver",
    "Upstream",
    "UpstreamTaskRuns",
    "UpstreamTasks",
    "resolver_for",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineRun:
    """One pipeline run: ``orchestrator`` + ``pipeline`` (dag id / flow name) + its run id.

    ``pipeline_run`` is None for a task that runs outside any pipeline run (a Prefect task
    called without a flow): nothing is pinned then.
    """

    orchestrator: str
    pipeline: str | None
    pipeline_run: str | None


class Upstream(Protocol):
    """What a task knows about its upstream: which version of a collection it should get."""

    def pinned(
        self, registry: Registry, run: PipelineRun, project: str, name: str
    ) -> ArtifactVersion | None:
        """The version of ``project/name`` the upstream produced in ``run``, or None."""


class UpstreamTasks:
    """Upstream by declared task ids (Airflow DAG edges).

    ``producers(project, name)`` returns the ids of upstream tasks that declare the collection
    as an output; the newest version one of them logged in the pipeline run is pinned.
    """

    def __init__(self, producers: Callable[[str, str], set[str]]) -> None:
        self.producers = producers

    def pinned(
        self, registry: Registry, run: PipelineRun, project: str, name: str
    ) -> ArtifactVersion | None:
        producers = self.producers(project, name)
        if not producers or run.pipeline_run is None:
            return None
        version = registry.produced_in(
            f"{project}/{name}",
            orchestrator=run.orchestrator,
            pipeline=run.pipeline,
            pipeline_run=run.pipeline_run,
            tasks=sorted(producers),
        )
        if version is None:
            log.warning(
                "artiflow: upstream tasks %s declare %s/%s as an output but logged no version "
                "in pipeline run %s; resolving it globally",
                sorted(producers),
                project,
                name,
                run.pipeline_run,
            )
        return version


#: the run info keys :class:`UpstreamTaskRuns` reads (written by the Prefect adapter)
TASK_RUN_KEY = "task_run_id"
UPSTREAM_KEY = "upstream_task_runs"


class UpstreamTaskRuns:
    """Upstream by orchestrator task-run ids (Prefect futures/results and ``wait_for``).

    A registry run records its own task-run id (``info["task_run_id"]``) and its direct
    upstream ids (``info["upstream_task_runs"]``); the upstream of a task is followed through
    those records level by level, so a producer two hops up is found too, and the nearest
    producer wins.
    """

    def __init__(self, task_run_ids: Iterable[str]) -> None:
        self.ids = frozenset(str(i) for i in task_run_ids)

    def pinned(
        self, registry: Registry, run: PipelineRun, project: str, name: str
    ) -> ArtifactVersion | None:
        if run.pipeline_run is None:
            return None
        collection = f"{project}/{name}"
        newest = registry.produced_in(
            collection, orchestrator=run.orchestrator, pipeline_run=run.pipeline_run
        )
        if newest is None or not self.ids:
            return newest  # produced nowhere in this run, or no edges: the newest in the run
        producer = newest.logged_by()
        if producer is not None and producer.info.get(TASK_RUN_KEY) in self.ids:
            return newest  # the common case: the newest was produced by a direct upstream
        found = self._nearest(registry, run, project, name)
        return found if found is not None else newest

    def _nearest(
        self, registry: Registry, run: PipelineRun, project: str, name: str
    ) -> ArtifactVersion | None:
        runs = registry.runs(
            orchestrator=run.orchestrator, pipeline_run=run.pipeline_run, limit=None
        )
        by_id = {str(r.info.get(TASK_RUN_KEY)): r for r in runs if r.info.get(TASK_RUN_KEY)}
        level, seen = set(self.ids), set(self.ids)
        while level:
            found = [
                v
                for tid in level
                if tid in by_id
                for v in by_id[tid].logged_artifacts()
                if (v.project, v.collection) == (project, name)
            ]
            if found:
                return max(found, key=lambda v: v.index)
            nxt = {
                str(u)
                for tid in level
                if tid in by_id
                for u in by_id[tid].info.get(UPSTREAM_KEY) or ()
            }
            level = nxt - seen
            seen |= nxt
        return None


class Resolver:
    """Resolves every input of one pipeline run (see the module docstring).

    Locked resolutions are remembered per process (a lock entry never changes once written).

    Example:
        >>> Resolver.resolve.__name__
        'resolve'
    """

    def __init__(self, registry: Registry, run: PipelineRun) -> None:
        self.registry = registry
        self.run = run
        self._locked: dict[tuple[PipelineRun, str], ArtifactVersion] = {}
        self._mutex = threading.Lock()

    def __repr__(self) -> str:
        return f"<Resolver {self.run.orchestrator}:{self.run.pipeline}/{self.run.pipeline_run}>"

    def resolve_for(self, context: TaskContext, ref: str) -> ArtifactVersion:
        """The version ``ref`` stands for in the task ``context`` (every rule applies).

        Example:
            >>> # resolver_for(reg, ctx.pipeline_key).resolve_for(ctx, "bike-dataset:production")
        """
        return self.resolve(
            ref,
            upstream=context.upstream,
            task=context.task,
            lock_parent=context.lock_parent,
            trigger_pins=context.trigger_pins,
            replay_of=context.replay_of,
        )

    def resolve(
        self,
        ref: str,
        *,
        upstream: Upstream | None = None,
        task: str | None = None,
        lock_parent: PipelineRun | None = None,
        trigger_pins: Mapping[str, str] | None = None,
        replay_of: PipelineRun | None = None,
    ) -> ArtifactVersion:
        """The version ``ref`` stands for in this pipeline run (rules: module docstring).

        ``upstream`` tells which version an upstream task produced (same-run pinning);
        ``task`` names the resolving task (recorded in the run lock); ``lock_parent``,
        ``trigger_pins`` and ``replay_of`` are the :class:`TaskContext` fields of that name.
        """
        reg = self.registry
        r = parse_ref(ref, default_project=reg.default_project)
        if r.is_latest and upstream is not None:
            pinned = upstream.pinned(reg, self.run, r.project, r.name)
            if pinned is not None:
                log.info("artiflow: %s pinned to %s (same pipeline run)", ref, pinned.ref)
                return ensure_clean(reg, pinned, None)  # a quarantined pin is refused
        found, checked = self._through_lock(r, ref, task, lock_parent, trigger_pins, replay_of)
        if checked:  # Registry.get(ref) itself refused a quarantined version for this selector
            return found
        return ensure_clean(reg, found, r.selector)  # through an alias: never a quarantined one

    def _through_lock(
        self,
        r: Ref,
        ref: str,
        task: str | None,
        lock_parent: PipelineRun | None,
        trigger_pins: Mapping[str, str] | None,
        replay_of: PipelineRun | None,
    ) -> tuple[ArtifactVersion, bool]:
        """The replayed, trigger-pinned, locked or newly resolved version of ``r``, and whether
        its quarantine check for ``r.selector`` was made already: True only for a version
        ``Registry.get(r)`` returned just now (it refuses a quarantined one itself); a locked,
        remembered, replayed or trigger-pinned version must still be checked."""
        reg = self.registry
        key = lock_parent or self.run
        if key.pipeline_run is None:
            return reg.get(str(r)), True  # outside any pipeline run: no lock
        text = str(r)
        remembered = self._locked.get((key, text))
        if remembered is not None:
            return remembered, False
        forced = self._replayed(r, text, replay_of) or self._trigger_pinned(r, trigger_pins)
        fresh = forced is None
        if forced is None:
            held = locks.locked_version(reg, key.orchestrator, key.pipeline, key.pipeline_run, text)
            if held is not None:
                return self._remember(key, text, _alive(held, text, key)), False
            forced = reg.get(text)
        got = locks.lock_version(
            reg, key.orchestrator, key.pipeline, str(key.pipeline_run), text, forced, task
        )
        if got.id != forced.id:
            log.info("artiflow: %s locked to %s by an earlier task of the run", ref, got.ref)
        if replay_of is not None or trigger_pins:
            return forced, fresh  # replay and trigger pins win over whatever the lock holds
        return self._remember(key, text, got), fresh and got.id == forced.id

    def _remember(self, key: PipelineRun, text: str, version: ArtifactVersion) -> ArtifactVersion:
        with self._mutex:
            self._locked[(key, text)] = version
        return version

    def _replayed(self, r: Ref, text: str, replay_of: PipelineRun | None) -> ArtifactVersion | None:
        if replay_of is None or replay_of.pipeline_run is None:
            return None
        o = replay_of
        held = locks.locked_version(
            self.registry, o.orchestrator, o.pipeline, str(o.pipeline_run), text
        )
        if held is None:
            log.warning(
                "artiflow: replay of %s: that run never resolved %s; resolving it as usual",
                o.pipeline_run,
                text,
            )
            return None
        log.info("artiflow: %s replayed as %s (lock of %s)", text, held.ref, o.pipeline_run)
        return _alive(held, text, o)

    def _trigger_pinned(
        self, r: Ref, trigger_pins: Mapping[str, str] | None
    ) -> ArtifactVersion | None:
        if not trigger_pins or is_version_index(r.selector) or is_semver(r.selector):
            return None
        pin = trigger_pins.get(f"{r.project}/{r.name}")
        if pin is None:
            return None
        version = self.registry.get(pin)
        log.info("artiflow: %s pinned to %s (the version that triggered the run)", r, version.ref)
        return version


def _alive(version: ArtifactVersion, text: str, run: PipelineRun) -> ArtifactVersion:
    if version.state == "DELETED":
        raise ArtifactNotFoundError(
            f"{text} is locked to {version.ref} in {run.orchestrator} run {run.pipeline_run!r}, "
            "but that version was deleted; keep run locks you want to replay "
            "(artiflow lock RUN --keep --reason ...)"
        )
    return version


_lock = threading.Lock()
_resolvers: weakref.WeakKeyDictionary[Registry, OrderedDict[PipelineRun, Resolver]] = (
    weakref.WeakKeyDictionary()
)
_MAX_RUNS = 256  # pipeline runs remembered per registry and process


def resolver_for(registry: Registry, run: PipelineRun) -> Resolver:
    """The resolver of ``run`` on ``registry`` (one per pipeline run and process)."""
    with _lock:
        per_registry = _resolvers.setdefault(registry, OrderedDict())
        resolver = per_registry.get(run)
        if resolver is None:
            resolver = per_registry[run] = Resolver(registry, run)
            while len(per_registry) > _MAX_RUNS:
                per_registry.popitem(last=False)
        else:
            per_registry.move_to_end(run)
        return resolver
