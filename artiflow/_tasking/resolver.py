"""Resolution of a task's input refs, through ONE resolver per pipeline run.

Every input an artifact task resolves (declared inputs, ``use_artifact``, the cache key of an
opted-in Prefect cache) goes through :meth:`Resolver.resolve` of its pipeline run (a DAG run, a
flow run). Today it applies *same-run pinning*: ``name`` / ``name:latest`` whose collection an
upstream task produced in this pipeline run resolves to that task's version, never to a newer
version a concurrent run logged; explicit aliases and ``vN`` resolve globally. The pipeline-run
lock (the version each ref resolved to first) belongs in :meth:`Resolver.resolve` too, at the
marked place, so no caller has to change.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from artiflow._ops.quarantine import ensure_clean  # seam: lineage control
from artiflow.refs import parse_ref

if TYPE_CHECKING:
    from artiflow import ArtifactVersion, Registry

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

    Example:
        >>> Resolver.resolve.__name__
        'resolve'
    """

    def __init__(self, registry: Registry, run: PipelineRun) -> None:
        self.registry = registry
        self.run = run

    def __repr__(self) -> str:
        return f"<Resolver {self.run.orchestrator}:{self.run.pipeline}/{self.run.pipeline_run}>"

    def resolve(
        self, ref: str, *, upstream: Upstream | None = None, task: str | None = None
    ) -> ArtifactVersion:
        """The version ``ref`` stands for in this pipeline run.

        ``upstream`` tells which version an upstream task produced (same-run pinning);
        ``task`` names the resolving task (for the pipeline-run lock's record).
        """
        reg = self.registry
        r = parse_ref(ref, default_project=reg.default_project)
        if r.is_latest and upstream is not None:
            pinned = upstream.pinned(reg, self.run, r.project, r.name)
            if pinned is not None:
                log.info("artiflow: %s pinned to %s (same pipeline run)", ref, pinned.ref)
                return ensure_clean(reg, pinned, None)  # seam: a quarantined pin is refused
        # The pipeline-run lock slots in here: return the version this ref resolved to first
        # in self.run, or record the one resolved now (with `task`).
        return reg.get(str(r))


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
