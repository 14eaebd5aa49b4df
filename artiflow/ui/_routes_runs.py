"""``api/runs``, ``api/locks`` and ``api/lineage``: runs (paged in the database), one run, the
run lock of a pipeline run, the graph around a version.

Example:
    >>> from artiflow.ui._routes_runs import router
    >>> sorted(r.path for r in router.routes)[0]
    '/api/lineage/{project}/{name}/{selector}'
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from . import _serialize as ser
from ._deps import FOUND, READ, Limit, Name, Offset, Project, Reg, Selector, get_version
from ._models import LineageOut, RunDetail, RunLockOut, RunsPage

router = APIRouter()


@router.get("/api/runs", response_model=RunsPage, tags=["runs"], responses=READ)
def list_runs(
    reg: Reg,
    orchestrator: Annotated[
        str | None, Query(max_length=32, description="airflow, prefect, manual...")
    ] = None,
    pipeline: Annotated[
        str | None, Query(max_length=255, description="DAG id or flow name.")
    ] = None,
    pipeline_run: Annotated[
        str | None, Query(max_length=255, description="DAG run id or flow run id.")
    ] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Runs (Airflow task tries, Prefect task runs, manual blocks), newest first.

    ``total`` is null: runs are paged in the database; ``has_more`` tells if a next page exists.
    """
    filters = {"orchestrator": orchestrator, "pipeline": pipeline, "pipeline_run": pipeline_run}
    given = {k: v for k, v in filters.items() if v}
    found = list(reg.runs(**given, limit=limit + 1, offset=offset))
    return {
        "items": [ser.run_dict(r) for r in found[:limit]],
        "total": None,
        "has_more": len(found) > limit,
        "offset": offset,
        "limit": limit,
    }


@router.get("/api/runs/{run_id}", response_model=RunDetail, tags=["runs"], responses=FOUND)
def get_run(
    reg: Reg, run_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,128}$")]
) -> dict[str, Any]:
    """One run with the versions it used and logged."""
    run = reg.get_run(run_id)
    out = ser.run_dict(run)
    out["used"] = [ser.version_summary(v) for v in run.used_artifacts()]
    out["logged"] = [ser.version_summary(v) for v in run.logged_artifacts()]
    return out


@router.get("/api/locks", response_model=RunLockOut, tags=["runs"], responses=FOUND)
def get_run_lock(
    reg: Reg,
    orchestrator: Annotated[str, Query(max_length=32, description="airflow, prefect, manual...")],
    pipeline_run: Annotated[str, Query(max_length=255, description="DAG run id or flow run id.")],
    pipeline: Annotated[
        str | None,
        Query(max_length=255, description="DAG id or flow name (when the run id is in several)."),
    ] = None,
) -> dict[str, Any]:
    """The run lock of a pipeline run: each ref and the version it resolved to the first time
    in that run (every later read in the run got the same), kept state and replay comparisons.
    """
    lock = reg.run_lock(orchestrator, pipeline_run, pipeline=pipeline)
    out: dict[str, Any] = lock.to_dict()
    return out


@router.get(
    "/api/impact/{project}/{name}/{selector}",
    response_model=dict[str, Any],
    tags=["lineage"],
    responses=FOUND,
)
def impact(
    reg: Reg,
    project: Project,
    name: Name,
    selector: Selector,
    depth: Annotated[int | None, Query(ge=1, le=100, description="Steps downstream.")] = None,
) -> dict[str, Any]:
    """Every version built from this one (transitively), the aliases on them and the path to
    each: the ``artiflow.impact/1`` schema of ``artiflow impact --json`` (docs/bad-data.md)."""
    v = get_version(reg, project, name, selector)
    out: dict[str, Any] = reg.impact(ser.pinned_ref(v), depth).to_dict()
    return out


@router.get(
    "/api/lineage/{project}/{name}/{selector}",
    response_model=LineageOut,
    tags=["lineage"],
    responses=FOUND,
)
def lineage(
    reg: Reg,
    project: Project,
    name: Name,
    selector: Selector,
    direction: Annotated[str, Query(pattern="^(upstream|downstream|both)$")] = "both",
    depth: Annotated[
        int | None,
        Query(
            ge=1, le=100, description="Runs between the ref and the farthest version; none = all."
        ),
    ] = None,
) -> dict[str, Any]:
    """Versions and runs around a version.

    Edges go run -> version (logged), version -> run (used), version -> registry member (link).
    """
    v = get_version(reg, project, name, selector)
    ref = ser.pinned_ref(v)
    graph = reg.lineage(ref, direction=direction, depth=depth)
    return ser.lineage_dict(graph, root_ref=ref, direction=direction, depth=depth)
