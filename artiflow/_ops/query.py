"""Reading the catalog: resolve refs, list versions and collections, alias history, lineage.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("notes")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("hi")
    >>> _ = reg.log(draft, aliases=["production"])
    >>> get(reg.context, "notes:production").version, [c.name for c in collections(reg.context)]
    ('v0', ['notes'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import InvalidRefError
from ..lineage import DIRECTIONS, LineageGraph, build
from ..records import AliasEvent, Collection
from ..states import VersionState

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..refs import Ref
    from ..version import ArtifactVersion

__all__ = [
    "alias_history",
    "collections",
    "get",
    "get_hinted",
    "lineage",
    "lineage_args",
    "versions",
]


def get(ctx: RegistryContext, ref: str | Ref) -> ArtifactVersion:
    """The committed version named by ``[project/]name[:alias|vN|semver]``."""
    return get_hinted(ctx, ref)[0]


def get_hinted(ctx: RegistryContext, ref: str | Ref) -> tuple[ArtifactVersion, bool]:
    """:func:`get`, and whether the quarantine check must run for it (same statement)."""
    r = ctx.parse(ref)
    record, needs_check = ctx.catalog.resolve_hinted(r.project, r.name, r.selector)
    return ctx.version(record), needs_check


def versions(
    ctx: RegistryContext, name: str, *, include_deleted: bool = False
) -> list[ArtifactVersion]:
    """Versions of a collection, oldest first."""
    r = ctx.parse(name)
    states = [VersionState.COMMITTED] + ([VersionState.DELETED] if include_deleted else [])
    rows = ctx.catalog.versions(r.project, r.name, states=tuple(s.value for s in states))
    return [ctx.version(row) for row in rows]


def collections(
    ctx: RegistryContext,
    type: str | None = None,
    project: str | None = None,
    *,
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Collection]:
    """Collections sorted by project and name, with their version counts."""
    return list(
        ctx.catalog.collections(
            type=type, project=project, search=search, limit=limit, offset=offset
        )
    )


def alias_history(
    ctx: RegistryContext,
    name: str,
    *,
    alias: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[AliasEvent]:
    """Alias moves of a collection (optionally of one alias), newest first."""
    r = ctx.parse(name)
    rows = ctx.catalog.alias_history(r.project, r.name, limit=limit, offset=offset, alias=alias)
    return [AliasEvent.of(row) for row in rows]


def lineage_args(direction: str, depth: int | None) -> None:
    """Check the arguments of :meth:`Registry.lineage`."""
    if direction not in DIRECTIONS:
        raise InvalidRefError(
            f"invalid direction {direction!r}: use one of {', '.join(DIRECTIONS)}"
        )
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise InvalidRefError(f"invalid depth {depth!r}: use a whole number >= 0, or None")


def lineage(
    ctx: RegistryContext, version: ArtifactVersion, direction: str, depth: int | None
) -> LineageGraph:
    """The lineage graph of ``version`` (arguments checked first)."""
    lineage_args(direction, depth)
    return build(ctx.catalog, version.record, direction, depth)
