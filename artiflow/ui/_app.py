"""The FastAPI application: JSON API under ``api/``, the page at ``/``, its files at ``static/``.

Every URL the page uses is relative, so the app works at ``/`` (``artiflow ui``) and mounted
under a prefix (``/artiflow`` inside Airflow).
"""

# No `from __future__ import annotations`: FastAPI must see the local Annotated aliases.
import hashlib
import hmac
import http
import re
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import _serialize as ser
from ._files import ManifestCache, open_stream
from ._guard import DEFAULT_MAX_BODY, RequestGuard
from ._models import (
    AliasEventOut,
    AliasMove,
    CollectionDetail,
    CollectionsPage,
    ErrorOut,
    FilesPage,
    LineageOut,
    Page,
    RunDetail,
    RunsPage,
    UiConfig,
    VersionDetail,
    VersionOut,
    VersionPatch,
)

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SELECTOR = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$"
MAX_OFFSET = 1_000_000_000  # any bigger offset overflowed the database's integers (HTTP 500)
MAX_INDEX = 2**31 - 1  # version indices are 32-bit integers in the catalog
PAGE_HTML = "index.html"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

Project = Annotated[str, Path(pattern=NAME, description="Project name.")]
Name = Annotated[str, Path(pattern=NAME, description="Collection name.")]
Selector = Annotated[
    str, Path(pattern=SELECTOR, description="An alias, vN, or a semantic version label.")
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]

_WHY = {
    400: "Bad input (a malformed ref, a Host name this server does not answer to).",
    401: "Missing or wrong write token (or not logged in to the host, e.g. Airflow).",
    403: "Refused by the host's authentication (e.g. Airflow).",
    404: "No such collection, version, file or run.",
    405: "Writes are off: the server was started read-only.",
    409: "Someone else changed what you are changing since you loaded it (or If-Match does "
    "not match): nothing was written; reload and apply your change again.",
    413: "Request body over the server's limit (1 MiB unless configured).",
    502: "The stored content is missing or corrupt (nothing unverified is sent).",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut, "description": _WHY[code]} for code in codes}


class RegistryHolder:
    """Holds the registry. Given None or a factory (a zero-argument callable), it builds the
    registry at the first request: ``artiflow.Registry()`` or ``factory()``, once."""

    def __init__(self, registry: Any = None) -> None:
        self._factory: Callable[[], Any] | None = None
        self._registry = None
        if registry is None:
            self._factory = _default_registry
        elif callable(registry):
            self._factory = registry
        else:
            self._registry = registry
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    assert self._factory is not None
                    self._registry = self._factory()
        return self._registry


def _default_registry() -> Any:
    from artiflow import Registry

    return Registry()


class SecurityHeaders:
    """ASGI middleware: ``nosniff`` and a strict referrer policy on every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"same-origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _paginate(items: Sequence[Any], offset: int, limit: int) -> dict[str, Any]:
    return {
        "items": list(items[offset : offset + limit]),
        "total": len(items),
        "offset": offset,
        "limit": limit,
    }


def _artiflow_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("artiflow")
    except PackageNotFoundError:  # a source checkout that was never installed
        return None


def _static_files() -> dict[str, bytes]:
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


def _content_type(name: str) -> str:
    dot = name.rfind(".")
    return _CONTENT_TYPES.get(name[dot:] if dot >= 0 else "", "application/octet-stream")


def _error_handlers(app: FastAPI) -> None:
    from artiflow import exceptions as exc

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        phrase = http.HTTPStatus(error.status_code).phrase.replace(" ", "").replace("-", "")
        return JSONResponse(
            {"detail": error.detail, "error": phrase},
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    app.add_exception_handler(StarletteHTTPException, http_error)

    statuses: list[tuple[type[Exception], int]] = [
        (exc.InvalidRefError, 400),
        (exc.InvalidPathError, 400),
        (exc.ArtifactNotFoundError, 404),
        (exc.AliasInUseError, 409),
        (exc.ConflictError, 409),
        (exc.ArtifactFinalizedError, 409),
        (exc.VerificationError, 502),
        (exc.StoreError, 502),
        (exc.ArtiflowError, 400),
    ]

    def make(status: int) -> Callable[[Request, Exception], Any]:
        async def handler(request: Request, error: Exception) -> JSONResponse:
            return JSONResponse(
                {"detail": str(error), "error": type(error).__name__}, status_code=status
            )

        return handler

    for cls, status in statuses:
        app.add_exception_handler(cls, make(status))


def _if_match(header: str | None, v: Any) -> int | None:
    """The revision an ``If-Match`` header expects of ``v`` (None: no header or ``*``).
    An entity tag of another version, or an unreadable one, is a conflict."""
    from artiflow.exceptions import ConflictError

    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        m = re.fullmatch(r'\s*(?:W/)?"(v[0-9]+)\.r([0-9]{1,12})"\s*', tag)
        if m and m.group(1) == v.version:
            return int(m.group(2))
    raise ConflictError(
        f"If-Match {header[:100]!r} does not match {ser.pinned_ref(v)} (its ETag is "
        f"{ser.etag(v)}): it changed since you loaded it; reload and apply your change again"
    )


def build_app(
    registry: Any = None,
    *,
    allow_writes: bool = False,
    write_token: str | None = None,
    dependencies: Sequence[Any] | None = None,
    allowed_hosts: Sequence[str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    """Build the app (see :func:`artiflow.ui.create_app` for the arguments)."""
    if allow_writes and not write_token:
        raise ValueError(
            "allow_writes=True needs a write_token: pass write_token='<secret>' (clients then "
            "send 'Authorization: Bearer <secret>'), or leave writes off"
        )
    if max_body < 1:
        raise ValueError(f"max_body={max_body}: give the largest request body in bytes (>= 1)")
    holder = RegistryHolder(registry)
    manifests = ManifestCache()
    static = _static_files()
    app = FastAPI(
        title="artiflow registry",
        summary="Collections, versions, files, runs, lineage and alias history of a registry.",
        version=_artiflow_version() or "0",
        dependencies=list(dependencies or ()),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.registry_holder = holder
    # the gate runs first (inside the security headers): Host, write token, body size
    app.add_middleware(
        RequestGuard,
        allowed_hosts=allowed_hosts,
        write_token=write_token if allow_writes else None,
        max_body=max_body,
    )
    app.add_middleware(SecurityHeaders)
    _error_handlers(app)
    Reg = Annotated[Any, Depends(holder)]
    hosted = (401, 403) if dependencies else ()
    READ = _errors(400, 413, *hosted)
    FOUND = _errors(400, 404, 413, *hosted)
    WRITE = _errors(400, 401, 403, 404, 409, 413)

    def get_version(reg: Any, project: str, name: str, selector: str) -> Any:
        from artiflow.exceptions import InvalidRefError

        if re.fullmatch(r"v[0-9]+", selector) and int(selector[1:]) > MAX_INDEX:
            raise HTTPException(404, f"{project}/{name} has no version {selector}")
        try:
            return reg.get(f"{project}/{name}:{selector}")
        except InvalidRefError as exc:  # project and name match NAME: the selector names nothing
            raise HTTPException(
                404, f"{project}/{name} has no version {selector!r}: {exc}"
            ) from exc

    def version_detail(reg: Any, v: Any) -> dict[str, Any]:
        out = ser.version_summary(v)
        out["metadata"] = ser.jsonable(getattr(v, "metadata", None) or {})
        count = getattr(v, "file_count", None)
        if not isinstance(count, int) or getattr(v, "is_link", False):
            count = len(manifests.get(v))  # a registry member's row counts 0; its manifest is right
        out["file_count"] = count
        producer = v.logged_by()
        out["producer"] = None if producer is None else ser.run_dict(producer)
        out["consumers"] = [ser.run_dict(r) for r in v.used_by()]
        return out

    def entry_url(v: Any, path: str) -> str:
        segments = "/".join(quote(s, safe="") for s in path.split("/"))
        return f"api/versions/{v.project}/{v.collection}/{v.version}/files/{segments}"

    # ---- the page and its files ---------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def page(request: Request) -> Response:
        path = request.url.path
        if not path.endswith("/"):  # relative URLs need the trailing slash
            return RedirectResponse(request.url.replace(path=path + "/"), status_code=308)
        return HTMLResponse(
            static[PAGE_HTML],
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
        )

    etags = {name: f'"{hashlib.sha256(body).hexdigest()[:20]}"' for name, body in static.items()}

    @app.get("/static/{name:path}", include_in_schema=False)
    def static_file(name: str, request: Request) -> Response:
        body = static.get(name)
        if body is None:
            raise HTTPException(404, f"no static file {name!r}")
        headers = {"Cache-Control": "no-cache", "ETag": etags[name]}
        if request.headers.get("if-none-match") == etags[name]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=_content_type(name), headers=headers)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    # ---- read API -------------------------------------------------------------------------

    @app.get("/api/config", response_model=UiConfig, tags=["meta"], responses=READ)
    def config() -> dict[str, Any]:
        """What the page may offer: whether write endpoints are on."""
        return {"allow_writes": allow_writes, "artiflow_version": _artiflow_version()}

    @app.get(
        "/api/collections", response_model=CollectionsPage, tags=["collections"], responses=READ
    )
    def list_collections(
        reg: Reg,
        project: Annotated[
            str | None, Query(max_length=128, description="Only this project.")
        ] = None,
        type: Annotated[
            str | None, Query(max_length=64, description="Only this artifact type.")
        ] = None,
        q: Annotated[
            str | None,
            Query(max_length=200, description="Case-insensitive text in name or description."),
        ] = None,
        offset: Offset = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
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
        return {**_paginate(rows, offset, limit), "types": types, "projects": projects}

    @app.get(
        "/api/collections/{project}/{name}",
        response_model=CollectionDetail,
        tags=["collections"],
        responses=FOUND,
    )
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

    @app.get(
        "/api/collections/{project}/{name}/versions",
        response_model=Page[VersionOut],
        tags=["collections"],
        responses=FOUND,
    )
    def list_versions(
        reg: Reg,
        project: Project,
        name: Name,
        offset: Offset = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        order: Annotated[
            str, Query(pattern="^(asc|desc)$", description="By version index.")
        ] = "desc",
    ) -> dict[str, Any]:
        """Committed versions of a collection, newest first by default."""
        versions = list(reg.versions(f"{project}/{name}"))
        if order == "desc":
            versions.reverse()
        page = _paginate(versions, offset, limit)
        page["items"] = [ser.version_summary(v) for v in page["items"]]
        return page

    @app.get(
        "/api/collections/{project}/{name}/alias-history",
        response_model=Page[AliasEventOut],
        tags=["collections"],
        responses=FOUND,
    )
    def alias_history(
        reg: Reg,
        project: Project,
        name: Name,
        alias: Annotated[
            str | None, Query(pattern=SELECTOR, description="Only this alias.")
        ] = None,
        include_latest: Annotated[bool, Query(description="Include moves of 'latest'.")] = False,
        offset: Offset = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """Every alias move of a collection, newest first."""
        history = reg.alias_history(f"{project}/{name}", limit=None)
        events = [ser.alias_event_dict(e) for e in history]
        if alias:
            events = [e for e in events if e["alias"] == alias]
        elif not include_latest:
            events = [e for e in events if e["alias"] != "latest"]
        return _paginate(events, offset, limit)

    etag_header = {
        "ETag": {
            "description": "The version's editable state ('\"v3.r7\"'): send it as If-Match.",
            "schema": {"type": "string"},
        }
    }

    @app.get(
        "/api/versions/{project}/{name}/{selector}",
        response_model=VersionDetail,
        tags=["versions"],
        responses={**FOUND, 200: {"description": "The version.", "headers": etag_header}},
    )
    def get_version_detail(
        reg: Reg, project: Project, name: Name, selector: Selector, response: Response
    ) -> dict[str, Any]:
        """One version: aliases, tags, metadata, state, file count, producer and consumer runs."""
        v = get_version(reg, project, name, selector)
        response.headers["ETag"] = ser.etag(v)
        return version_detail(reg, v)

    @app.get(
        "/api/versions/{project}/{name}/{selector}/files",
        response_model=FilesPage,
        tags=["versions"],
        responses=FOUND,
    )
    def list_files(
        reg: Reg,
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
        manifest = manifests.get(v)
        rows: Sequence[Any] = manifest.rows
        if q:
            needle = q.lower()
            rows = [r for r in rows if needle in r.lower]
        page = _paginate(rows, offset, limit)
        page["items"] = [
            {
                "path": r.path,
                "size": r.size,
                "digest": r.digest,
                "ref": r.ref,
                "download": entry_url(v, r.path),
            }
            for r in page["items"]
        ]
        page["total_size"] = manifest.total_size
        page["file_count"] = len(manifest)
        return page

    @app.get(
        "/api/versions/{project}/{name}/{selector}/files/{path:path}",
        tags=["versions"],
        response_class=StreamingResponse,
        responses={
            200: {"content": {"application/octet-stream": {}}, "description": "The file."},
            **FOUND,
            **_errors(502),
        },
    )
    def download_file(
        reg: Reg, project: Project, name: Name, selector: Selector, path: str
    ) -> Response:
        """Download one file of a version (verified against its digest while streaming).

        Only paths listed in the version's manifest are served.
        """
        v = get_version(reg, project, name, selector)
        manifest = manifests.get(v)
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

    @app.get("/api/runs", response_model=RunsPage, tags=["runs"], responses=READ)
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
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
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

    @app.get("/api/runs/{run_id}", response_model=RunDetail, tags=["runs"], responses=FOUND)
    def get_run(
        reg: Reg, run_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,128}$")]
    ) -> dict[str, Any]:
        """One run with the versions it used and logged."""
        run = reg.get_run(run_id)
        out = ser.run_dict(run)
        out["used"] = [ser.version_summary(v) for v in run.used_artifacts()]
        out["logged"] = [ser.version_summary(v) for v in run.logged_artifacts()]
        return out

    @app.get(
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
                ge=1,
                le=100,
                description="Runs between the ref and the farthest version; none = all.",
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

    # ---- write API (only when enabled) ------------------------------------------------------

    if allow_writes:
        token = (write_token or "").encode()
        bearer = HTTPBearer(auto_error=False, description="The write token given to `artiflow ui`.")

        def require_token(
            creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
            x_artiflow_token: Annotated[str | None, Header(include_in_schema=False)] = None,
        ) -> None:
            # The gate (RequestGuard) checked it before the body was read; this documents the
            # scheme in the OpenAPI document and guards the route if the app is used without it.
            # X-Artiflow-Token serves hosts (Airflow) whose own auth owns the Authorization header.
            given = x_artiflow_token or (creds.credentials if creds is not None else None)
            if not given or not hmac.compare_digest(given.encode(), token):
                raise HTTPException(
                    401,
                    "writes need the write token: send 'Authorization: Bearer <token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )

        Writer = [Depends(require_token)]
        AliasName = Annotated[str, Path(pattern=NAME)]

        @app.put(
            "/api/collections/{project}/{name}/aliases/{alias}",
            response_model=VersionOut,
            tags=["writes"],
            dependencies=Writer,
            responses=WRITE,
        )
        def move_alias(
            reg: Reg, project: Project, name: Name, alias: AliasName, body: AliasMove
        ) -> dict[str, Any]:
            """Put ``alias`` on a version (moving it from the version that held it).

            With ``expected`` the move is a compare-and-set: 409 if the alias is elsewhere.
            """
            target = get_version(reg, project, name, body.version)
            moved = reg.alias(ser.pinned_ref(target), alias, expected=body.expected)
            return ser.version_summary(moved)

        @app.delete(
            "/api/collections/{project}/{name}/aliases/{alias}",
            response_model=VersionOut,
            tags=["writes"],
            dependencies=Writer,
            responses=WRITE,
        )
        def remove_alias(
            reg: Reg, project: Project, name: Name, alias: AliasName
        ) -> dict[str, Any]:
            """Take ``alias`` off the version holding it (``latest`` is managed: not removable)."""
            if alias == "latest":
                raise HTTPException(400, "'latest' is managed by artiflow and cannot be removed")
            v = get_version(reg, project, name, alias)
            v.aliases = [a for a in v.aliases if a != alias]
            v.save()
            return ser.version_summary(v)

        @app.patch(
            "/api/versions/{project}/{name}/{selector}",
            response_model=VersionDetail,
            tags=["writes"],
            dependencies=Writer,
            responses={**WRITE, 200: {"description": "The version.", "headers": etag_header}},
        )
        def patch_version(
            reg: Reg,
            project: Project,
            name: Name,
            selector: Selector,
            body: Annotated[VersionPatch, Body()],
            response: Response,
            if_match: Annotated[
                str | None,
                Header(
                    max_length=1000,
                    description="The ETag of the version as you loaded it (GET gives it): the "
                    "edit is refused with 409 if the version was edited since. Without it, "
                    "only the fields you send are compared-and-set.",
                ),
            ] = None,
        ) -> dict[str, Any]:
            """Edit description, metadata (JSON merge patch) or tags; the content never changes.

            Only the fields sent are changed; another client's edits of other fields, keys and
            tags are kept. 409 (nothing written) when the version changed since ``If-Match``.
            """
            v = get_version(reg, project, name, selector)
            expected = _if_match(if_match, v)
            given = body.model_fields_set
            if "description" in given:
                v.description = body.description
            if "metadata" in given and body.metadata is not None:
                for key, value in body.metadata.items():
                    if value is None:
                        v.metadata.pop(key, None)
                    else:
                        v.metadata[key] = value
            if "tags" in given and body.tags is not None:
                v.tags = list(dict.fromkeys(body.tags))
            v.save(expected_revision=expected)
            response.headers["ETag"] = ser.etag(v)
            return version_detail(reg, v)

    return app
