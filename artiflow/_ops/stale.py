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

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import control_sql as sql
from ..events import RegistryEvent
from ..exceptions import ArtifactNotFoundError, InvalidRefError
from ..refs import LATEST, is_semver, is_version_index, parse_ref, validate_alias

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..registry import Registry

__all__ = [
    "ALIAS_OVERDUE",
    "MovedInput",
    "OverdueAlias",
    "StaleVersion",
    "overdue",
    "parse_age",
    "record_via",
    "set_max_age",
    "stale",
]

#: the registry event kind of an alias older than its ``max_age`` (Prefect:
#: ``artiflow.alias.overdue``)
ALIAS_OVERDUE = "alias.overdue"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


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
class OverdueAlias:
    """An alias whose version is older than the alias's ``max_age`` (seconds)."""

    alias_ref: str
    version: str
    age: float
    max_age: int
    committed_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias_ref,
            "version": self.version,
            "age_s": round(self.age, 3),
            "max_age_s": self.max_age,
            "committed_at": self.committed_at.isoformat(),
        }


@dataclass(frozen=True)
class StaleVersion:
    """A stale version (``moved``: the inputs that moved), or one holding an alias older than
    its ``max_age`` (``overdue``), and the aliases on it."""

    ref: str
    aliases: tuple[str, ...]
    moved: tuple[MovedInput, ...]
    overdue: tuple[OverdueAlias, ...] = ()

    @property
    def is_stale(self) -> bool:
        """True when an input it consumed moved (staleness never comes from timestamps)."""
        return bool(self.moved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "aliases": list(self.aliases),
            "moved": [m.to_dict() for m in self.moved],
            "overdue": [o.to_dict() for o in self.overdue],
        }


def parse_age(value: Any) -> int:
    """A maximum age in whole seconds from seconds (a number), a ``timedelta`` or a text such
    as ``"90s"``, ``"30m"``, ``"12h"``, ``"1d"``, ``"2w"``; it must be positive.

    Example:
        >>> parse_age("1d"), parse_age(90), parse_age(dt.timedelta(hours=2))
        (86400, 90, 7200)
    """
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _AGE.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise InvalidRefError(
            f"invalid max age {value!r}: give seconds, a timedelta, or a text like 30m, 12h, 1d"
        )
    if seconds < 1:
        raise InvalidRefError(f"invalid max age {value!r}: it must be at least 1 second")
    return int(seconds)


def set_max_age(
    registry: Registry, name: str, alias: str, max_age: Any, *, by: str | None = None
) -> int | None:
    """Give ``alias`` of the collection ``name`` a maximum age (``None`` removes it): when the
    version it points at was committed longer ago than that, the alias is *overdue*
    (:func:`overdue`, ``artiflow status``). ``latest`` may have one (nothing new for a day).
    Returns the maximum age in seconds.

    Example:
        >>> # set_max_age(registry, "bike-dataset", "production", "1d")
    """
    from .quarantine import who

    validate_alias(alias, allow_latest=True)
    seconds = None if max_age is None else parse_age(max_age)
    r = registry.parse(name)
    coll = registry.catalog.collection(r.project, r.name)
    if coll is None:
        raise ArtifactNotFoundError(f"artifact {r.project}/{r.name} does not exist; log it first")
    with registry.catalog.write() as conn:
        sql.set_freshness(conn, coll.id, alias, seconds, by or who())
    return seconds


def overdue(
    registry: Registry, *, emit: bool = False, now: dt.datetime | None = None
) -> list[OverdueAlias]:
    """The aliases older than their maximum age now. With ``emit``, one ``alias.overdue``
    event (Airflow asset event / Prefect event ``artiflow.alias.overdue``) per alias and
    version the first time it is found overdue: a library runs no timer, so call this from a
    schedule (``artiflow status --emit`` in cron, an Airflow task, a Prefect deployment).

    Example:
        >>> # [o.alias_ref for o in overdue(registry, emit=True)]
    """
    at = now or dt.datetime.now(dt.timezone.utc)
    cat = registry.catalog
    with cat.read() as conn:
        rules = sql.freshness_rules(conn)
        if not rules:
            return []
        targets = sql.alias_targets(conn, [(r["collection_id"], r["alias"]) for r in rules])
        times = sql.committed_times(conn, targets.values())
    found: list[tuple[dict[str, Any], int, OverdueAlias]] = []
    for r in rules:
        vid = targets.get((r["collection_id"], r["alias"]))
        if vid is None or vid not in times:
            continue
        age = (at - times[vid]).total_seconds()
        if age > r["max_age"]:
            item = OverdueAlias(
                f"{r['project']}/{r['name']}:{r['alias']}", "", age, r["max_age"], times[vid]
            )
            found.append((r, vid, item))
    rows = cat.versions_by_ids([vid for _r, vid, _o in found])
    out = []
    for r, vid, item in found:
        row = rows[vid]
        item = OverdueAlias(item.alias_ref, row.ref, item.age, item.max_age, item.committed_at)
        out.append(item)
        if not emit:
            continue
        with cat.write() as conn:
            first = sql.mark_overdue(conn, r["collection_id"], r["alias"], vid)
        if first:
            registry.publish(
                RegistryEvent(
                    ALIAS_OVERDUE,
                    row.project,
                    row.name,
                    row.ref,
                    row.version,
                    row.index,
                    row.digest,
                    list(row.aliases),
                    alias=r["alias"],
                    details=item.to_dict(),
                )
            )
    return out


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
    every version that holds an alias (``latest`` included). Versions holding an alias older
    than its ``max_age`` are listed too, with ``overdue`` set (``is_stale`` False when no input
    moved); no event is sent here (see :func:`overdue`).

    Example:
        >>> # [s.ref for s in registry.stale()]
    """
    cat = registry.catalog
    late: dict[str, list[OverdueAlias]] = {}
    for o in overdue(registry):
        late.setdefault(o.version, []).append(o)
    if ref is not None:
        asked = registry.get(ref, allow_quarantined=True)
        ids = [asked.id]
        late = {k: v for k, v in late.items() if k == asked.ref}
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
    if not moved and not late:
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
        out.append(StaleVersion(row.ref, tuple(names), tuple(items), tuple(late.pop(row.ref, ()))))
    for version_ref, items_late in sorted(late.items()):  # overdue, not stale
        v = registry.get(version_ref, allow_quarantined=True)
        names = [a for a in v.aliases]
        out.append(StaleVersion(v.ref, tuple(names), (), tuple(items_late)))
    return sorted(out, key=lambda s: s.ref)
