"""The FastAPI application: JSON API under ``api/``, the page at ``/``, its files at ``static/``.

Every URL the page uses is relative, so the app works at ``/`` (``artiflow ui``) and mounted
under a prefix (``/artiflow`` inside Airflow). The routes live in one module per area
(``_routes_page``, ``_routes_collections``, ``_routes_versions``, ``_routes_runs``,
``_routes_writes``) and share ``_deps``; this module assembles them.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
import http
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import _routes_collections, _routes_page, _routes_runs, _routes_versions, _routes_writes
from ._deps import MAX_INDEX, MAX_OFFSET, NAME, SELECTOR, RegistryHolder, UiState, artiflow_version
from ._deps import errors as _errors
from ._guard import DEFAULT_MAX_BODY, RequestGuard

__all__ = ["MAX_INDEX", "MAX_OFFSET", "NAME", "SELECTOR", "RegistryHolder", "build_app"]


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


def _error_handlers(app: FastAPI) -> None:
    from artiflow import PolicyError, QuarantinedError
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
        (exc.RunLockError, 404),
        (exc.LockKeptError, 409),
        (QuarantinedError, 409),
        (PolicyError, 409),
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
    static = _routes_page.static_files()
    app = FastAPI(
        title="artiflow registry",
        summary="Collections, versions, files, runs, lineage and alias history of a registry.",
        version=artiflow_version() or "0",
        dependencies=list(dependencies or ()),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    holder = RegistryHolder(registry)
    app.state.registry_holder = holder
    app.state.ui = UiState(
        holder=holder,
        allow_writes=allow_writes,
        write_token=write_token if allow_writes else None,
        static=static,
        etags=_routes_page.static_etags(static),
    )
    # the gate runs first (inside the security headers): Host, write token, body size
    app.add_middleware(
        RequestGuard,
        allowed_hosts=allowed_hosts,
        write_token=write_token if allow_writes else None,
        max_body=max_body,
    )
    app.add_middleware(SecurityHeaders)
    _error_handlers(app)
    hosted = _errors(401, 403) if dependencies else None  # the host's auth may refuse reads
    app.include_router(_routes_page.router, responses=hosted)
    for area in (_routes_collections, _routes_versions, _routes_runs):
        app.include_router(area.router, responses=hosted)
    if allow_writes:
        app.include_router(_routes_writes.router)
    return app
