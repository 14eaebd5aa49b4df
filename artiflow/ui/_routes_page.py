"""The page at ``/``, its files under ``static/``, the OpenAPI document and ``api/config``.

Example:
    >>> from artiflow.ui._routes_page import router
    >>> sorted(r.path for r in router.routes)[:2]
    ['/', '/api/config']
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
import hashlib
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ._deps import READ, State, artiflow_version
from ._models import UiConfig

PAGE_HTML = "index.html"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

router = APIRouter()


def static_files() -> dict[str, bytes]:
    """Every file of the page (``artiflow/ui/static``), by relative path."""
    root = resources.files("artiflow.ui") / "static"
    found: dict[str, bytes] = {}

    def walk(folder: Any, prefix: str) -> None:
        for item in folder.iterdir():
            if item.is_dir():
                walk(item, f"{prefix}{item.name}/")
            elif not item.name.startswith("."):
                found[f"{prefix}{item.name}"] = item.read_bytes()

    walk(root, "")
    return found


def static_etags(static: dict[str, bytes]) -> dict[str, str]:
    """A strong entity tag per static file."""
    return {name: f'"{hashlib.sha256(body).hexdigest()[:20]}"' for name, body in static.items()}


def content_type(name: str) -> str:
    """The media type of a static file, by its extension."""
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:] if dot >= 0 else "", "application/octet-stream")


@router.get("/", include_in_schema=False)
def page(request: Request, state: State) -> Response:
    path = request.url.path
    if not path.endswith("/"):  # relative URLs need the trailing slash
        return RedirectResponse(request.url.replace(path=path + "/"), status_code=308)
    return HTMLResponse(
        state.static[PAGE_HTML],
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


@router.get("/static/{name:path}", include_in_schema=False)
def static_file(name: str, request: Request, state: State) -> Response:
    body = state.static.get(name)
    if body is None:
        raise HTTPException(404, f"no static file {name!r}")
    tag = state.etags[name]
    headers = {"Cache-Control": "no-cache", "ETag": tag}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type(name), headers=headers)


@router.get("/api/openapi.json", include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    spec: dict[str, Any] = request.app.openapi()
    return spec


@router.get("/api/config", response_model=UiConfig, tags=["meta"], responses=READ)
def config(state: State) -> dict[str, Any]:
    """What the page may offer: whether write endpoints are on."""
    return {"allow_writes": state.allow_writes, "artiflow_version": artiflow_version()}
