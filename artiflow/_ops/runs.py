"""Runs: start, find and list them, and walk the edges between runs and versions.

Example:
    >>> import tempfile
    >>> from artiflow import Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> run = start_run(reg.context, "train", pipeline="nightly")
    >>> get_run(reg.context, run.id).label
    'manual: nightly.train'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import ArtifactNotFoundError, InvalidRefError
from ..refs import is_semver, is_version_index, parse_ref

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..runs import Run
    from ..version import ArtifactVersion

__all__ = [
    "get_run",
    "list_runs",
    "new_run",
    "produced_in",
    "record_used",
    "runs_of",
    "start_run",
    "versions_of_run",
    "via_alias",
]


def new_run(ctx: RegistryContext, name: str, **fields: Any) -> Run:
    """A new RUNNING run (fields as :meth:`Registry.run` takes them, every one checked), NOT
    recorded yet: the caller inserts it, e.g. in the transaction of its first input
    (:func:`record_used` with ``insert=True``), or with ``ctx.catalog.create_run(run.record)``."""
    from ..runs import new_run_row

    if not isinstance(name, str) or not name:
        raise InvalidRefError("a run needs a non-empty name")
    return ctx.run(new_run_row(name, max_metadata_bytes=ctx.max_metadata_bytes, **fields))


def start_run(ctx: RegistryContext, name: str, **fields: Any) -> Run:
    """A new RUNNING run (fields as :meth:`Registry.run` takes them), recorded at once."""
    run = new_run(ctx, name, **fields)
    ctx.catalog.create_run(run.record)
    return run


def via_alias(ctx: RegistryContext, ref: Any) -> str | None:
    """The alias (``latest`` included) ``ref`` resolves through: what
    :func:`artiflow._ops.stale.record_via` records; None for ``vN``, a semantic version or a
    version object.

    Example:
        >>> import tempfile
        >>> from artiflow import Registry
        >>> ctx = Registry(home=tempfile.mkdtemp()).context
        >>> via_alias(ctx, "ds"), via_alias(ctx, "ds:production"), via_alias(ctx, "ds:v3")
        ('latest', 'production', None)
    """
    if not isinstance(ref, str):
        return None
    selector = parse_ref(ref, ctx.default_project).selector
    if is_version_index(selector) or is_semver(selector):
        return None
    return selector


def record_used(
    ctx: RegistryContext, run: Run, version: ArtifactVersion, ref: Any, *, insert: bool = False
) -> None:
    """Record that ``run`` used ``version`` and, when ``ref`` named an alias, the alias it was
    read through (staleness), in ONE write transaction; with ``insert``, the run row itself
    first (a run started with :func:`new_run`)."""
    alias = via_alias(ctx, ref)
    ctx.catalog.record_use(
        run.id,
        version.id,
        alias=alias,
        collection_id=version._row.collection_id,
        new_run=run.record if insert else None,
    )


def get_run(ctx: RegistryContext, run_id: str) -> Run:
    """A run by id (:class:`ArtifactNotFoundError` when there is none)."""
    rows = ctx.catalog.runs_by_ids([run_id])
    if run_id not in rows:
        raise ArtifactNotFoundError(f"run {run_id!r} does not exist")
    return ctx.run(rows[run_id])


def list_runs(ctx: RegistryContext, **filters: Any) -> list[Run]:
    """Runs, newest first (filters: orchestrator, pipeline, pipeline_run, state, limit, offset)."""
    return [ctx.run(r) for r in ctx.catalog.list_runs(**filters)]


def runs_of(ctx: RegistryContext, version_id: int, direction: str) -> list[Run]:
    """The runs that ``logged`` or ``used`` a version, oldest first (each once)."""
    ids = [r for r, _ in ctx.catalog.io_of_versions([version_id], direction)]
    rows = ctx.catalog.runs_by_ids(ids)
    runs = (ctx.run(rows[i]) for i in dict.fromkeys(ids) if i in rows)
    return sorted(runs, key=lambda r: r.started_at)


def versions_of_run(ctx: RegistryContext, run_id: str, direction: str) -> list[ArtifactVersion]:
    """The versions a run ``logged`` or ``used`` (each once)."""
    ids = [v for _, v in ctx.catalog.io_of_runs([run_id], direction)]
    rows = ctx.catalog.versions_by_ids(ids)
    return [ctx.version(rows[i]) for i in dict.fromkeys(ids) if i in rows]


def produced_in(
    ctx: RegistryContext,
    name: str,
    *,
    orchestrator: str,
    pipeline_run: str,
    pipeline: str | None = None,
    tasks: Sequence[str] | None = None,
) -> ArtifactVersion | None:
    """The version of ``name`` a run of ``pipeline_run`` logged (same-run pinning), or None."""
    r = ctx.parse(name)
    row = ctx.catalog.produced_in(
        r.project,
        r.name,
        orchestrator=orchestrator,
        pipeline_run=str(pipeline_run),
        pipeline=pipeline,
        tasks=tasks,
    )
    return ctx.version(row) if row is not None else None
