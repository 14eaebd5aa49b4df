"""``api/collections``: the collections, one collection, its versions and alias history.

Example:
    >>> from artiflow.ui._routes_collections import router
    >>> "/api/collections" in [r.path for r in router.routes]
    True
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from artiflow._ops.policy import with_audit

from ..exceptions import ArtifactNotFoundError
from . import _serialize as ser
from ._deps import (
    FOUND,
    READ,
    SELECTOR,
    Limit,
    Name,
    Offset,
    Project,
    Reg,
    page_dict,
    paginate,
    version_of,
)
from ._models import AliasEventOut, CollectionDetail, CollectionsPage, Page, VersionOut

router = APIRouter(tags=["collections"])


@router.get("/api/collections", response_model=CollectionsPage, responses=READ)
def list_collections(
    reg: Reg,
    project: Annotated[str | None, Query(max_length=128, description="Only this project.")] = None,
    type: Annotated[
        str | None, Query(max_length=64, description="Only this artifact type.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive text in name or description."),
    ] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Collections, sorted by project and name, with the types and projects present.

    Paged in the database: only the page's rows are read and counted.
    """
    search = q.strip() if q else None
    page = reg.catalog.page_collections(
        type=type or None,
        project=project or None,
        search=search or None,
        in_details=True,
        limit=limit,
        offset=offset,
    )
    types, projects = reg.catalog.collection_facets()
    return {**page_dict(page, limit, ser.collection_dict), "types": types, "projects": projects}


@router.get("/api/collections/{project}/{name}", response_model=CollectionDetail, responses=FOUND)
def get_collection(reg: Reg, project: Project, name: Name) -> dict[str, Any]:
    """One collection with its current aliases and latest version."""
    summary = reg.catalog.collection_summary(project, name)
    if summary is None:
        raise HTTPException(404, f"no collection {project}/{name}")
    found, exact = summary  # the count stops at 10,000 ("10,000+"), like the pages' totals
    out = ser.collection_dict(found)
    out["version_count_exact"] = exact
    aliases = {a: f"v{i}" for a, i in reg.catalog.collection_aliases(found.id).items()}
    newest = reg.catalog.page_versions(project, name, limit=1, count_cap=1).items
    if newest:  # 'latest' is not stored: it is the newest committed version
        aliases["latest"] = f"v{newest[0].index}"
    out["aliases"] = dict(sorted(aliases.items()))
    out["latest"] = ser.version_summary(version_of(reg, newest[0])) if newest else None
    return out


@router.get(
    "/api/collections/{project}/{name}/versions",
    response_model=Page[VersionOut],
    responses=FOUND,
)
def list_versions(
    reg: Reg,
    project: Project,
    name: Name,
    offset: Offset = 0,
    limit: Limit = 50,
    order: Annotated[str, Query(pattern="^(asc|desc)$", description="By version index.")] = "desc",
) -> dict[str, Any]:
    """Committed versions of a collection, newest first by default (paged in the database)."""
    try:
        page = reg.catalog.page_versions(
            project, name, limit=limit, offset=offset, newest_first=order == "desc"
        )
    except ArtifactNotFoundError as exc:
        raise HTTPException(404, f"no collection {project}/{name}") from exc
    return page_dict(page, limit, lambda row: ser.version_summary(version_of(reg, row)))


@router.get(
    "/api/collections/{project}/{name}/alias-history",
    response_model=Page[AliasEventOut],
    responses=FOUND,
)
def alias_history(
    reg: Reg,
    project: Project,
    name: Name,
    alias: Annotated[str | None, Query(pattern=SELECTOR, description="Only this alias.")] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Every alias move of a collection, newest first (``latest`` follows each new version
    and is not a recorded move)."""
    history = reg.alias_history(f"{project}/{name}", limit=None)
    events = [ser.alias_event_dict(e) for e in history]
    events = with_audit(reg, f"{project}/{name}", events)  # who moved it, how (the audit)
    if alias:
        events = [e for e in events if e["alias"] == alias]
    return paginate(events, offset, limit)
