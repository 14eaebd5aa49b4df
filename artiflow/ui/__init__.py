"""The registry's web page and JSON API (FastAPI), standalone or mounted inside Airflow.

Needs the ``ui`` extra (``pip install 'artiflow[ui]'``). Nothing is opened at import time: the
registry is built at the first request when none is given.

Example:
    >>> from artiflow.ui import create_app
    >>> app = create_app()                      # Registry() is created at the first request
    >>> sorted(r.path for r in app.routes if r.path.startswith("/api/collections"))[:1]
    ['/api/collections']
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fastapi

__all__ = ["create_app", "serve"]

_HINT = "the artiflow web page needs FastAPI and uvicorn: pip install 'artiflow[ui]'"


def create_app(
    registry: Any = None,
    *,
    allow_writes: bool = False,
    write_token: str | None = None,
    dependencies: Sequence[Any] | None = None,
    allowed_hosts: Sequence[str] | None = None,
    max_body: int = 1024 * 1024,
) -> fastapi.FastAPI:
    """The registry web page (``/``) and JSON API (``/api/...``) as a FastAPI app.

    Args:
        registry: an ``artiflow.Registry``, or a zero-argument callable returning one (called
            once, at the first request). None builds ``Registry()`` from the environment at the
            first request, never at import or here.
        allow_writes: turn on the write endpoints (move/remove aliases, edit description,
            metadata, tags). Off by default: the app is read-only.
        write_token: the secret write requests must carry as ``Authorization: Bearer <token>``
            (or ``X-Artiflow-Token: <token>``). Required when ``allow_writes`` is true.
        dependencies: FastAPI ``Depends(...)`` objects applied to every route, the page and
            its files included (the Airflow plugin passes Airflow's authentication here).
        allowed_hosts: the ``Host`` names the app answers to (others get 400, so a
            DNS-rebinding page cannot read it); ``"*"`` or ``"*.example.com"`` patterns allowed.
            None (default here) checks nothing: for an app mounted in another server, whose
            host policy applies. :func:`serve` passes loopback names + the bind host.
        max_body: the largest request body in bytes (default 1 MiB); bigger ones get 413
            before the handler runs. Write requests without the token get 401 before their
            body is read.

    All links in the page are relative, so the app may be mounted under any prefix
    (``parent.mount("/artiflow", create_app(...))``).

    Example:
        >>> from fastapi.testclient import TestClient
        >>> import tempfile, artiflow
        >>> client = TestClient(create_app(artiflow.Registry(home=tempfile.mkdtemp())))
        >>> client.get("api/collections").json()["total"]
        0
    """
    try:
        import fastapi  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_HINT} ({exc})") from exc
    from ._app import build_app

    return build_app(
        registry,
        allow_writes=allow_writes,
        write_token=write_token,
        dependencies=dependencies,
        allowed_hosts=allowed_hosts,
        max_body=max_body,
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    registry: Any = None,
    allow_writes: bool = False,
    write_token: str | None = None,
    *,
    log_level: str = "info",
    allowed_hosts: Sequence[str] = (),
    max_body: int = 1024 * 1024,
) -> None:
    """Serve the page and API with uvicorn until interrupted (what ``artiflow ui`` runs).

    Binds to 127.0.0.1 by default. With ``allow_writes`` and no ``write_token`` a random token
    is generated and printed to stderr once. Only requests whose ``Host`` is a loopback name,
    the bind host or one of ``allowed_hosts`` are answered (``["*"]`` answers any).

    Example:
        >>> # serve(port=8765)   # then open http://127.0.0.1:8765/
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError(f"{_HINT} ({exc})") from exc
    if allow_writes and not write_token:
        write_token = secrets.token_urlsafe(24)
        print(
            f"artiflow ui: write token (send 'Authorization: Bearer <token>'): {write_token}",
            file=sys.stderr,
        )
    from ._guard import default_allowed_hosts

    hosts = default_allowed_hosts(host, allowed_hosts)
    if host in ("0.0.0.0", "::", "") and not allowed_hosts:
        print(
            f"artiflow ui: listening on all interfaces but answering only Host names {hosts}; "
            "add --allowed-host NAME for each name clients use",
            file=sys.stderr,
        )
    app = create_app(
        registry,
        allow_writes=allow_writes,
        write_token=write_token,
        allowed_hosts=hosts,
        max_body=max_body,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
