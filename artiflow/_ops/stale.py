"""Staleness from what was consumed, never from timestamps.

A version is *stale* when an alias one of its producing runs consumed through (``latest``
included) now points at a different version than the one consumed: the production model trained
on ``bike-dataset:v3`` (through ``bike-dataset:production``) while ``production`` is ``v5`` now.
Runs record the alias of each input they resolve through one (``run.use("ds:production")``,
artifact-task inputs), see :func:`record_via`; :func:`stale` compares with where each alias is.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> def draft(name, text):
    ...     a = Artifact(name)
    ...     with a.new_file("x.txt") as f:
    ...         _ = f.write(text)
    ...     return a
    >>> _ = reg.log(draft("A", "1"))
    >>> with reg.run("build-b") as run:
    ...     _ = run.use("A")
    ...     _ = reg.log(draft("A", "2"))  # A:v1 lands while B runs
    ...     _ = run.log(draft("B", "b"))
    >>> [(s.ref, [(m.alias_ref, m.consumed, m.now) for m in s.moved]) for s in stale(reg)]
    [('default/B:v0', [('default/A:latest', 'default/A:v0', 'default/A:v1')])]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import control_sql as sql
from ..refs import LATEST, is_semver, is_version_index, parse_ref

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..registry import Registry

__all__ = ["MovedInput", "StaleVersion", "record_via", "stale"]


@dataclass(frozen=True)
class MovedInput:
    """An input consumed through ``alias_ref`` as ``consumed``; the alias is on ``now`` (None:
    removed) today."""

    alias_ref: str
    consumed: str
    now: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias_ref, "consumed": self.consumed, "now": self.now}


@dataclass(frozen=True)
class StaleVersion:
    """A stale version, the aliases on it, and the inputs that moved."""

    ref: str
    aliases: tuple[str, ...]
    moved: tuple[MovedInput, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "aliases": list(self.aliases),
            "moved": [m.to_dict() for m in self.moved],
        }


def record_via(registry: Registry | RegistryContext, run_id: str, ref: Any, version: Any) -> None:
    """Remember the alias ``ref`` named when a run consumed ``version`` (nothing for ``vN``,
    semantic versions or an already resolved version).

    Example:
        >>> # record_via(registry, run.id, "bike-dataset:production", version)
    """
    if not isinstance(ref, str):
        return
    selector = parse_ref(ref, registry.default_project).selector
    if is_version_index(selector) or is_semver(selector):
        return
    with registry.catalog.write() as conn:
        sql.insert_via(conn, run_id, version.id, selector)


def stale(registry: Registry, ref: Any = None) -> list[StaleVersion]:
    """Stale versions: with ``ref``, that version (an empty list when it is fresh); without,
    every version that holds an alias (``latest`` included).

    Example:
        >>> # [s.ref for s in registry.stale()]
    """
    cat = registry.catalog
    if ref is not None:
        ids = [registry.get(ref, allow_quarantined=True).id]
    else:
        with cat.read() as conn:
            ids = sql.labelled_versions(conn)
    with cat.read() as conn:
        inputs = sql.consumed_through(conn, ids)
        targets = sql.alias_targets(conn, [(i["collection_id"], i["alias"]) for i in inputs])
    moved: dict[int, dict[tuple[str, str], tuple[int, int | None]]] = {}
    for i in inputs:
        now = targets.get((i["collection_id"], i["alias"]))
        if now != i["input_id"]:
            key = (str(i["collection_id"]), i["alias"])
            moved.setdefault(i["version_id"], {})[key] = (i["input_id"], now)
    if not moved:
        return []
    wanted = set(moved)
    for per in moved.values():
        for consumed, now in per.values():
            wanted.add(consumed)
            if now is not None:
                wanted.add(now)
    rows = cat.versions_by_ids(sorted(wanted))
    out = []
    for vid in sorted(moved, key=lambda v: rows[v].ref if v in rows else ""):
        row = rows.get(vid)
        if row is None:
            continue
        items = []
        for (_cid, alias), (consumed, now) in sorted(moved[vid].items()):
            c = rows[consumed]
            items.append(
                MovedInput(
                    f"{c.project}/{c.name}:{alias}",
                    c.ref,
                    rows[now].ref if now is not None and now in rows else None,
                )
            )
        names = ([LATEST] if row.is_latest else []) + [a for a in row.aliases if a != LATEST]
        out.append(StaleVersion(row.ref, tuple(names), tuple(items)))
    return out
