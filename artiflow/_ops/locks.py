"""Run locks: which version every ref resolved to in one pipeline run, kept locks, replays.

Each pipeline run (an Airflow DAG run; a Prefect flow run with its subflows; a ``manual`` run
of :class:`~artiflow._tasking.TaskExecution`) has a lock in the registry, filled by the task
runtime: the version each ref (``default/bike-dataset:production``) resolved to the first
time, and the task that resolved it. Every later resolution of that ref in that run returns the
same version (see :mod:`artiflow._tasking.resolver` for the precedence).

A lock can be *kept*: the versions it holds cannot be deleted (and so are never collected by
gc, which only removes blobs no live version needs) until it is released.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> from artiflow._tasking import TaskContext, TaskExecution
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("ds")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("a")
    >>> _ = reg.log(draft, aliases=["production"])
    >>> ctx = TaskContext("manual", "etl", "run-1", "train")
    >>> with TaskExecution(ctx, inputs={"ds": "ds:production"}, outputs={}, registry=reg) as ex:
    ...     ex.open()
    >>> lock = run_lock(reg, "manual", "run-1")
    >>> [(e.ref, e.version_ref, e.task) for e in lock.entries]
    [('default/ds:production', 'default/ds:v0', 'train')]
    >>> keep(reg, "manual", "run-1", reason="model card 7").kept
    True
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import LockCatalog
from ..exceptions import LockKeptError, RunLockError
from ..limits import validate_text

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..catalog import LockRow, ReplayRow
    from ..registry import Registry
    from ..version import ArtifactVersion

__all__ = [
    "LockEntry",
    "ReplayOutput",
    "RunLock",
    "ensure_not_kept",
    "find_run_lock",
    "keep",
    "lock_catalog",
    "lock_version",
    "locked_version",
    "record_replay_output",
    "release",
    "run_lock",
]


@dataclass(frozen=True)
class LockEntry:
    """One locked ref: ``ref`` as asked, the version it resolved to, the task that did it."""

    ref: str
    version_ref: str
    task: str | None
    at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "ref": self.ref,
            "version_ref": self.version_ref,
            "task": self.task,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class ReplayOutput:
    """One output of a replay run next to the original run's output of the same collection.

    ``reproduced`` is True when both have the same digest (False as well when the original run
    logged no version of that collection: ``original_version_ref`` is None then).
    """

    replay_run: str
    original_run: str
    collection: str
    task: str | None
    version_ref: str
    digest: str
    original_version_ref: str | None
    original_digest: str | None
    reproduced: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class RunLock:
    """The run lock of one pipeline run (see the module docstring).

    ``replay_of`` names the pipeline run a replay resolved from; ``replays`` lists the output
    comparisons this run takes part in (as the replay or as the original).
    """

    orchestrator: str
    pipeline: str | None
    pipeline_run: str
    kept: bool
    entries: tuple[LockEntry, ...]
    replays: tuple[ReplayOutput, ...] = ()
    kept_by: str | None = None
    kept_at: dt.datetime | None = None
    kept_reason: str | None = None
    replay_of: str | None = None
    created_at: dt.datetime | None = None

    def version_of(self, ref: str) -> str | None:
        """The version ref ``ref`` is locked to (the ref text as the lock records it)."""
        return next((e.version_ref for e in self.entries if e.ref == ref), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (what ``artiflow lock --json`` prints)."""
        return {
            "orchestrator": self.orchestrator,
            "pipeline": self.pipeline,
            "pipeline_run": self.pipeline_run,
            "kept": self.kept,
            "kept_by": self.kept_by,
            "kept_at": self.kept_at.isoformat() if self.kept_at else None,
            "kept_reason": self.kept_reason,
            "replay_of": self.replay_of,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "entries": [e.to_dict() for e in self.entries],
            "replays": [r.to_dict() for r in self.replays],
        }


def _check_key(orchestrator: str, pipeline: str | None, pipeline_run: str) -> None:
    """A lock key has the limits of the run fields it copies (``runs.orchestrator`` ...)."""
    validate_text("orchestrator", orchestrator, optional=False)
    validate_text("pipeline", pipeline)
    validate_text("pipeline_run", pipeline_run, optional=False)


def lock_catalog(registry: Registry | RegistryContext) -> LockCatalog:
    """The run-lock tables of ``registry``'s catalog (a registry or its context)."""
    return LockCatalog(registry.catalog)


def _versions(registry: Registry, ids: Iterable[int | None]) -> dict[int, ArtifactVersion]:
    from ..version import ArtifactVersion

    wanted = sorted({i for i in ids if i is not None})
    rows = registry.catalog.versions_by_ids(wanted) if wanted else {}
    return {i: ArtifactVersion(registry, row) for i, row in rows.items()}


def _record(registry: Registry, row: LockRow, cat: LockCatalog) -> RunLock:
    entries = cat.entries(row.id)
    replay_rows = cat.replays(row.id)
    ids: list[int | None] = [e.version_id for e in entries]
    for r in replay_rows:
        ids += [r.version_id, r.original_version_id]
    versions = _versions(registry, ids)
    runs = {row.id: row.pipeline_run}

    def run_name(lock_id: int) -> str:
        if lock_id not in runs:
            runs[lock_id] = cat.by_id(lock_id).pipeline_run
        return runs[lock_id]

    def ref_of(vid: int | None) -> str | None:
        if vid is None:
            return None
        return versions[vid].ref if vid in versions else f"<deleted version {vid}>"

    return RunLock(
        orchestrator=row.orchestrator,
        pipeline=row.pipeline,
        pipeline_run=row.pipeline_run,
        kept=row.kept,
        entries=tuple(LockEntry(e.ref, ref_of(e.version_id) or "", e.task, e.at) for e in entries),
        replays=tuple(_replay(r, run_name, ref_of) for r in replay_rows),
        kept_by=row.kept_by,
        kept_at=row.kept_at,
        kept_reason=row.kept_reason,
        replay_of=run_name(row.replay_of) if row.replay_of is not None else None,
        created_at=row.created_at,
    )


def _replay(r: ReplayRow, run_name: Any, ref_of: Any) -> ReplayOutput:
    return ReplayOutput(
        replay_run=run_name(r.lock_id),
        original_run=run_name(r.original_lock_id),
        collection=r.collection,
        task=r.task,
        version_ref=ref_of(r.version_id),
        digest=r.digest,
        original_version_ref=ref_of(r.original_version_id),
        original_digest=r.original_digest,
        reproduced=r.reproduced,
    )


def _find_row(
    registry: Registry, orchestrator: str, pipeline_run: str, pipeline: str | None
) -> LockRow | None:
    rows = lock_catalog(registry).find(orchestrator, str(pipeline_run), pipeline)
    if len(rows) > 1:
        names = ", ".join(repr(r.pipeline) for r in rows)
        raise RunLockError(
            f"{orchestrator} pipeline run {pipeline_run!r} exists in several pipelines "
            f"({names}): name the one you mean (pipeline=..., or --pipeline on the command line)"
        )
    return rows[0] if rows else None


def find_run_lock(
    registry: Registry,
    orchestrator: str,
    pipeline_run: str,
    *,
    pipeline: str | None = None,
) -> RunLock | None:
    """The run lock of a pipeline run, or None when it has none yet.

    Example:
        >>> # find_run_lock(reg, "airflow", "manual__2026-12-03T06:00:00+00:00")
    """
    row = _find_row(registry, orchestrator, pipeline_run, pipeline)
    return _record(registry, row, lock_catalog(registry)) if row is not None else None


def run_lock(
    registry: Registry,
    orchestrator: str,
    pipeline_run: str,
    *,
    pipeline: str | None = None,
) -> RunLock:
    """The run lock of a pipeline run: ref -> version, with the task that resolved it first.

    A pipeline run whose tasks resolved nothing yet (but that has registry runs) has an empty
    lock; a pipeline run the registry never saw raises :class:`RunLockError`.

    Example:
        >>> # registry.run_lock("airflow", run_id).entries[0].version_ref
    """
    found = find_run_lock(registry, orchestrator, pipeline_run, pipeline=pipeline)
    if found is not None:
        return found
    runs = registry.runs(orchestrator=orchestrator, pipeline_run=str(pipeline_run), limit=1)
    if pipeline is not None:
        runs = [r for r in runs if r.pipeline == pipeline]
    if runs:
        return RunLock(orchestrator, runs[0].pipeline, str(pipeline_run), False, ())
    raise RunLockError(
        f"no run lock for {orchestrator} pipeline run {pipeline_run!r}: no task of that run "
        "resolved an artifact in this registry. Check the run id and --orchestrator "
        "(airflow, prefect or manual)"
    )


def _pipeline_of(
    registry: Registry, orchestrator: str, pipeline_run: str, pipeline: str | None
) -> str | None:
    if pipeline is not None:
        return pipeline  # type: ignore[return-value]
    return run_lock(registry, orchestrator, pipeline_run).pipeline


def keep(
    registry: Registry,
    orchestrator: str,
    pipeline_run: str,
    *,
    reason: str,
    by: str | None = None,
    pipeline: str | None = None,
) -> RunLock:
    """Mark a run lock kept: none of its versions can be deleted until :func:`release`.

    Example:
        >>> # registry.keep_lock("airflow", run_id, reason="audit 2026-12").kept
    """
    if not isinstance(reason, str) or not reason.strip() or "\x00" in reason:
        raise RunLockError("keeping a run lock needs a reason (e.g. --reason 'audit 2026-12')")
    name = _pipeline_of(registry, orchestrator, pipeline_run, pipeline)
    _check_key(orchestrator, name, str(pipeline_run))
    who = (by or _user() or "")[:255] or None
    lock_catalog(registry).set_kept(
        orchestrator, name, str(pipeline_run), True, by=who, reason=reason
    )
    return run_lock(registry, orchestrator, pipeline_run, pipeline=name)


def release(
    registry: Registry,
    orchestrator: str,
    pipeline_run: str,
    *,
    pipeline: str | None = None,
) -> RunLock:
    """Release a kept run lock (its versions can be deleted again).

    Example:
        >>> # registry.release_lock("airflow", run_id).kept
    """
    name = _pipeline_of(registry, orchestrator, pipeline_run, pipeline)
    lock_catalog(registry).set_kept(orchestrator, name, str(pipeline_run), False)
    return run_lock(registry, orchestrator, pipeline_run, pipeline=name)


def ensure_not_kept(registry: Registry | RegistryContext, version: ArtifactVersion) -> None:
    """Raise :class:`LockKeptError` when a kept run lock holds ``version``.

    Example:
        >>> # ensure_not_kept(reg, reg.get("bike-dataset:v3"))  # before deleting it
    """
    held = lock_catalog(registry).kept_holding(version.id)
    if held:
        which = ", ".join(
            f"{r.orchestrator} run {r.pipeline_run!r}"
            + (f" of {r.pipeline}" if r.pipeline else "")
            + (f" (kept: {r.kept_reason})" if r.kept_reason else "")
            for r in held
        )
        first = held[0]
        raise LockKeptError(
            f"{version.ref} is held by the kept run lock of {which}; release it first "
            f"(artiflow lock {first.pipeline_run} --orchestrator {first.orchestrator} --release)"
        )


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        return None


# ---- what the task runtime uses -----------------------------------------------------------
def locked_version(
    registry: Registry, orchestrator: str, pipeline: str | None, pipeline_run: str, ref: str
) -> ArtifactVersion | None:
    """The version ``ref`` is locked to in a pipeline run, or None."""
    entry = lock_catalog(registry).entry(orchestrator, pipeline, pipeline_run, ref)
    if entry is None:
        return None
    return _versions(registry, [entry.version_id]).get(entry.version_id)


def lock_version(
    registry: Registry,
    orchestrator: str,
    pipeline: str | None,
    pipeline_run: str,
    ref: str,
    version: ArtifactVersion,
    task: str | None,
) -> ArtifactVersion:
    """Record ``ref`` -> ``version`` in the run's lock unless it is there already; return the
    version the lock holds afterwards (the first writer's)."""
    _check_key(orchestrator, pipeline, pipeline_run)
    validate_text("task", task)
    entry = lock_catalog(registry).record(
        orchestrator, pipeline, pipeline_run, ref, version.id, task
    )
    if entry.version_id == version.id:
        return version
    return _versions(registry, [entry.version_id])[entry.version_id]


def record_replay_output(
    registry: Registry,
    replay: tuple[str, str | None, str],
    original: tuple[str, str | None, str],
    version: ArtifactVersion,
    task: str | None,
) -> ReplayOutput:
    """Compare an output of a replay run with the original run's output of its collection
    (``(orchestrator, pipeline, pipeline_run)`` each) and record ``reproduced``."""
    _check_key(*replay)
    _check_key(*original)
    validate_text("task", task)
    cat = lock_catalog(registry)
    original_row = cat.ensure(*original)
    replay_row = cat.ensure(*replay, replay_of=original_row.id)
    collection = f"{version.project}/{version.collection}"
    before = None
    for tasks in ([task] if task else None, None):
        before = registry.produced_in(
            collection,
            orchestrator=original[0],
            pipeline_run=original[2],
            pipeline=original[1],
            tasks=tasks,
        )
        if before is not None:
            break
    row = cat.record_replay(
        replay_row.id,
        original_row.id,
        collection,
        task,
        version.id,
        before.id if before is not None else None,
    )
    return _replay(
        row,
        lambda i: replay[2] if i == replay_row.id else original[2],
        lambda vid: (
            None
            if vid is None
            else version.ref
            if vid == version.id
            else before.ref
            if before is not None
            else None
        ),
    )
