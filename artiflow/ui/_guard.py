"""The gate in front of the API (an ASGI middleware), checked before any handler runs and
before any request body is read:

1. ``Host``: with ``allowed_hosts`` set (``artiflow ui`` sets loopback names + the bind host),
   a request naming another host gets 400 -- a DNS-rebinding page cannot read a loopback server.
   ``None`` checks nothing (an app mounted in another server, e.g. Airflow, takes its host's
   policy).
2. Writes: a method other than GET/HEAD/OPTIONS gets 405 when writes are off, and 401 without
   the write token when they are on -- the body of an unauthenticated request is never read.
3. Body size: a declared ``Content-Length`` over ``max_body`` gets 413 at once; a streamed body
   is read up to ``max_body`` (then 413) and handed to the app from memory.

Example:
    >>> guard = RequestGuard(None, allowed_hosts=["localhost"], write_token=None)
    >>> guard.host_allowed(b"localhost:8765"), guard.host_allowed(b"evil.example")
    (True, False)
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["DEFAULT_MAX_BODY", "LOOPBACK_HOSTS", "RequestGuard", "default_allowed_hosts"]

DEFAULT_MAX_BODY = 1024 * 1024
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})


def default_allowed_hosts(bind_host: str, extra: Sequence[str] = ()) -> list[str]:
    """The ``Host`` names a standalone server accepts: loopback names, the bind host (unless it
    is a wildcard address) and ``extra``.

    Example:
        >>> default_allowed_hosts("10.0.0.5", ["models.internal"])
        ['localhost', '127.0.0.1', '::1', '10.0.0.5', 'models.internal']
    """
    names = list(LOOPBACK_HOSTS)
    if bind_host not in _WILDCARD_BINDS:
        names.append(bind_host.strip("[]"))
    names.extend(extra)
    return list(dict.fromkeys(n.lower() for n in names))


def _host_name(raw: bytes) -> str:
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8765
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class RequestGuard:
    """ASGI middleware: Host allow-list, write gate and body cap (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        *,
        allowed_hosts: Sequence[str] | None,
        write_token: str | None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else [h.lower() for h in allowed_hosts]
        self.token = write_token.encode() if write_token else None
        self.max_body = max_body

    def host_allowed(self, raw: bytes | None) -> bool:
        if self.allowed is None or "*" in self.allowed:
            return True
        if not raw:
            return False
        name = _host_name(raw)
        return any(name == h or (h.startswith("*.") and name.endswith(h[1:])) for h in self.allowed)

    def _token_ok(self, headers: dict[bytes, bytes]) -> bool:
        assert self.token is not None
        given = headers.get(b"x-artiflow-token")
        if given is None:
            auth = headers.get(b"authorization", b"")
            scheme, _, value = auth.partition(b" ")
            given = value.strip() if scheme.lower() == b"bearer" else None
        return bool(given) and hmac.compare_digest(given, self.token)  # type: ignore[arg-type]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.lower(), v)
        if not self.host_allowed(headers.get(b"host")):
            await _reply(
                send,
                400,
                "InvalidHost",
                "this server does not answer to that Host name; start it with "
                "--allowed-host NAME (artiflow ui) for each name clients use",
            )
            return
        method = scope.get("method", "GET").upper()
        if method not in _SAFE:
            if self.token is None:
                await _reply(
                    send,
                    405,
                    "ReadOnly",
                    "the API is read-only: start it with --allow-writes (and a token) to edit",
                    [(b"allow", b"GET, HEAD")],
                )
                return
            if not self._token_ok(headers):
                await _reply(
                    send,
                    401,
                    "Unauthorized",
                    "writes need the write token: send 'Authorization: Bearer <token>'",
                    [(b"www-authenticate", b"Bearer")],
                )
                return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _reply(send, 400, "BadRequest", "Content-Length is not a number")
                return
            if size > self.max_body:
                await self._too_large(send)
                return
        if method in _SAFE:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any) -> None:
        await _reply(
            send,
            413,
            "PayloadTooLarge",
            f"request bodies are limited to {self.max_body} bytes (artiflow ui --max-body)",
            [(b"connection", b"close")],
        )


async def _reply(
    send: Any,
    status: int,
    error: str,
    detail: str,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = json.dumps({"detail": detail, "error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
