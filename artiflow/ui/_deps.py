"""What every route of the web API shares: path/query types, the registry and app state as
dependencies, version lookup, in-memory paging of small lists, the documented error codes.

Example:
    >>> from artiflow.ui._deps import errors
    >>> sorted(errors(404))
    [404]
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated aliases.
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Path, Query, Request

from . import _serialize as ser
from ._files import ManifestCache
from ._models import ErrorOut

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SELECTOR = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$"
MAX_OFFSET = 1_000_000_000  # any bigger offset overflowed the database's integers (HTTP 500)
MAX_INDEX = 2**31 - 1  # version indices are 32-bit integers in the catalog

Project = Annotated[str, Path(pattern=NAME, description="Project name.")]
Name = Annotated[str, Path(pattern=NAME, description="Collection name.")]
Selector = Annotated[
    str, Path(pattern=SELECTOR, description="An alias, vN, or a semantic version label.")
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
Limit = Annotated[int, Query(ge=1, le=500)]

WHY = {
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


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry documenting each of ``codes``."""
    return {code: {"model": ErrorOut, "description": WHY[code]} for code in codes}


READ = errors(400, 413)
FOUND = errors(400, 404, 413)
WRITE = errors(400, 401, 403, 404, 409, 413)


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


@dataclass
class UiState:
    """What the routes need of the app that serves them (``app.state.ui``)."""

    holder: RegistryHolder
    allow_writes: bool = False
    write_token: str | None = None
    manifests: ManifestCache = field(default_factory=ManifestCache)
    static: dict[str, bytes] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)


def ui_state(request: Request) -> UiState:
    """The app's :class:`UiState` (a FastAPI dependency)."""
    state: UiState = request.app.state.ui
    return state


def registry(request: Request) -> Any:
    """The app's registry, opened at the first request (a FastAPI dependency)."""
    return ui_state(request).holder()


State = Annotated[UiState, Depends(ui_state)]
Reg = Annotated[Any, Depends(registry)]


def get_version(reg: Any, project: str, name: str, selector: str) -> Any:
    """The version ``project/name:selector``; 404 when the selector names nothing."""
    from artiflow.exceptions import InvalidRefError

    if re.fullmatch(r"v[0-9]+", selector) and int(selector[1:]) > MAX_INDEX:
        raise HTTPException(404, f"{project}/{name} has no version {selector}")
    try:
        # quarantined versions are shown (with their state) so people can investigate them
        return reg.get(f"{project}/{name}:{selector}", allow_quarantined=True)
    except InvalidRefError as exc:  # project and name match NAME: the selector names nothing
        raise HTTPException(404, f"{project}/{name} has no version {selector!r}: {exc}") from exc


def paginate(items: Sequence[Any], offset: int, limit: int) -> dict[str, Any]:
    """One page of a list already in memory (small lists only: a manifest, alias moves)."""
    return {
        "items": list(items[offset : offset + limit]),
        "total": len(items),
        "offset": offset,
        "limit": limit,
    }


def page_dict(page: Any, limit: int, item: Callable[[Any], Any]) -> dict[str, Any]:
    """A page the catalog read (``artiflow.catalog.Page``) as the API's ``Page``."""
    return {
        "items": [item(x) for x in page.items],
        "total": page.total,
        "total_exact": page.total_exact,
        "has_more": page.next_cursor is not None,
        "offset": page.offset,
        "limit": limit,
    }


def version_of(reg: Any, row: Any) -> Any:
    """The :class:`~artiflow.ArtifactVersion` of a catalog record."""
    from artiflow import ArtifactVersion

    return ArtifactVersion(reg, row)


def entry_url(v: Any, path: str) -> str:
    """The download URL of one file of ``v``, relative to the app."""
    segments = "/".join(quote(s, safe="") for s in path.split("/"))
    return f"api/versions/{v.project}/{v.collection}/{v.version}/files/{segments}"


def version_detail(state: UiState, v: Any) -> dict[str, Any]:
    """A version as ``VersionDetail``: summary, metadata, file count, producers, consumers."""
    out = ser.version_summary(v)
    out["metadata"] = ser.jsonable(getattr(v, "metadata", None) or {})
    count = getattr(v, "file_count", None)
    if not isinstance(count, int) or getattr(v, "is_link", False):
        count = len(state.manifests.get(v))  # a registry member's row counts 0; its manifest is
    out["file_count"] = count
    producers = [ser.run_dict(r) for r in v.logged_by_all()]
    out["producer"] = producers[0] if producers else None
    out["producers"] = producers
    out["consumers"] = [ser.run_dict(r) for r in v.used_by()]
    quarantine, tainted = v.quarantined, v.tainted_by
    out["quarantine"] = quarantine.to_dict() if quarantine is not None else None
    out["tainted_by"] = tainted.to_dict() if tainted is not None and quarantine is None else None
    return out


def artiflow_version() -> str | None:
    """The installed artiflow's version (None in a source checkout never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("artiflow")
    except PackageNotFoundError:
        return None
