"""``api/collections``: the collections, one collection, its versions and alias history.

Example:
    >>> from artiflow.ui._routes_collections import router
    >>> "/api/collections" in [r.path for r in router.routes]
    True
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from . import _serialize as ser
from ._deps import FOUND, READ, SELECTOR, Limit, Name, Offset, Project, Reg, paginate
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
    """Collections, sorted by project and name, with the types and projects present."""
    rows = [ser.collection_dict(c) for c in reg.collections()]
    types = sorted({r["type"] for r in rows if r["type"]})
    projects = sorted({r["project"] for r in rows})
    if type:
        rows = [r for r in rows if r["type"] == type]
    if project:
        rows = [r for r in rows if r["project"] == project]
    if q:
        needle = q.strip().lower()
        rows = [
            r
            for r in rows
            if needle in f"{r['project']}/{r['name']}".lower()
            or needle in (r["description"] or "").lower()
            or needle in (r["type"] or "").lower()
        ]
    rows.sort(key=lambda r: (r["project"], r["name"]))
    return {**paginate(rows, offset, limit), "types": types, "projects": projects}


@router.get("/api/collections/{project}/{name}", response_model=CollectionDetail, responses=FOUND)
def get_collection(reg: Reg, project: Project, name: Name) -> dict[str, Any]:
    """One collection with its current aliases and latest version."""
    found = [c for c in reg.collections(project=project) if c.name == name]
    if not found:
        raise HTTPException(404, f"no collection {project}/{name}")
    out = ser.collection_dict(found[0])
    versions = reg.versions(f"{project}/{name}")
    out["aliases"] = {a: v.version for v in versions for a in (v.aliases or ())}
    out["latest"] = ser.version_summary(versions[-1]) if versions else None
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
    """Committed versions of a collection, newest first by default."""
    versions = list(reg.versions(f"{project}/{name}"))
    if order == "desc":
        versions.reverse()
    page = paginate(versions, offset, limit)
    page["items"] = [ser.version_summary(v) for v in page["items"]]
    return page


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
    if alias:
        events = [e for e in events if e["alias"] == alias]
    return paginate(events, offset, limit)
