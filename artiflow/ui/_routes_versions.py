"""``api/versions``: one version, its files (paged) and the verified download of one file.

Example:
    >>> from artiflow.ui._routes_versions import router
    >>> len(router.routes)
    3
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response, StreamingResponse

from . import _serialize as ser
from ._deps import (
    FOUND,
    Name,
    Offset,
    Project,
    Reg,
    Selector,
    State,
    entry_url,
    errors,
    get_version,
    page_dict,
    paginate,
    version_detail,
)
from ._files import open_stream
from ._models import FilesPage, VersionDetail

router = APIRouter(tags=["versions"])

ETAG_HEADER = {
    "ETag": {
        "description": "The version's editable state ('\"v3.r7\"'): send it as If-Match.",
        "schema": {"type": "string"},
    }
}


@router.get(
    "/api/versions/{project}/{name}/{selector}",
    response_model=VersionDetail,
    responses={**FOUND, 200: {"description": "The version.", "headers": ETAG_HEADER}},
)
def get_version_detail(
    reg: Reg, state: State, project: Project, name: Name, selector: Selector, response: Response
) -> dict[str, Any]:
    """One version: aliases, tags, metadata, state, file count, producer and consumer runs."""
    v = get_version(reg, project, name, selector)
    response.headers["ETag"] = ser.etag(v)
    return version_detail(state, v)


def entry_out(v: Any, entry: Any) -> dict[str, Any]:
    """One file of ``v`` as ``EntryOut`` (a manifest row or a catalog entry)."""
    return {
        "path": entry.path,
        "size": entry.size,
        "digest": entry.digest,
        "ref": entry.ref,
        "download": entry_url(v, entry.path),
    }


@router.get(
    "/api/versions/{project}/{name}/{selector}/files",
    response_model=FilesPage,
    responses=FOUND,
)
def list_files(
    reg: Reg,
    state: State,
    project: Project,
    name: Name,
    selector: Selector,
    q: Annotated[
        str | None, Query(max_length=500, description="Case-insensitive text in the path.")
    ] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The manifest entries of a version, sorted by path, with a download URL each."""
    v = get_version(reg, project, name, selector)
    if not q and not getattr(v, "is_link", False):
        # paged in the database: a version of a million files never loads its whole manifest
        found = reg.catalog.page_entries(v.id, limit=limit, offset=offset)
        out = page_dict(found, limit, lambda e: entry_out(v, e))
        out["total_size"] = v.size
        out["file_count"] = found.total
        return out
    manifest = state.manifests.get(v)
    rows: Sequence[Any] = manifest.rows
    if q:
        needle = q.lower()
        rows = [r for r in rows if needle in r.lower]
    page = paginate(rows, offset, limit)
    page["items"] = [entry_out(v, r) for r in page["items"]]
    page["total_size"] = manifest.total_size
    page["file_count"] = len(manifest)
    return page


@router.get(
    "/api/versions/{project}/{name}/{selector}/files/{path:path}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file."},
        **FOUND,
        **errors(502),
    },
)
def download_file(
    reg: Reg, state: State, project: Project, name: Name, selector: Selector, path: str
) -> Response:
    """Download one file of a version (verified against its digest while streaming).

    Only paths listed in the version's manifest are served.
    """
    v = get_version(reg, project, name, selector)
    manifest = state.manifests.get(v)
    position = manifest.index.get(path)
    if position is None:
        raise HTTPException(404, f"{ser.pinned_ref(v)} has no file {path!r}")
    row = manifest.rows[position]
    chunks = open_stream(reg, v, row)
    filename = row.path.rsplit("/", 1)[-1]
    headers = {
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(filename, safe='')}",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, max-age=0",
    }
    if row.size is not None and row.ref is None:
        headers["Content-Length"] = str(row.size)
    if row.digest:
        headers["ETag"] = f'"{row.digest}"'
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
