"""Quarantine: mark a version bad; everything built from it is *tainted* until it is released.

While a version is quarantined, it and every version built from it (downstream through consumed
edges and registry links, see :mod:`artiflow._ops.impact`) refuse resolution through an alias
(``latest`` included) with :class:`QuarantinedError`, naming the quarantined root and the reason.
``vN`` (and a semantic version) still resolves, so people can investigate; ``allow=True``
(``Registry.get(..., allow_quarantined=True)``) overrides; moving an alias onto such a version
is refused. Taint is computed at resolution time by walking *upstream* of the version asked for
(only when some quarantine is active), so a version built later from a quarantined one is
tainted too, and a release restores the earlier state at once.

Quarantine and release record who, when and why, and send one ``version.quarantined`` /
``version.released`` :class:`~artiflow.events.RegistryEvent` per affected collection.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> a = Artifact("raw")
    >>> with a.new_file("x.txt") as f:
    ...     _ = f.write("1")
    >>> _ = reg.log(a)
    >>> q = quarantine(reg, "raw:v0", "corrupt rows", by="ana")
    >>> try:
    ...     reg.get("raw:latest")
    ... except QuarantinedError as exc:
    ...     print(exc.root, exc.reason)
    default/raw:v0 corrupt rows
    >>> reg.get("raw:v0").version
    'v0'
    >>> _ = release(reg, "raw:v0", by="ana")
    >>> reg.get("raw").version
    'v0'
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import control_sql as sql
from ..events import RegistryEvent
from ..exceptions import ArtifactNotFoundError, ArtiflowError, ConflictError, InvalidRefError
from ..refs import is_semver, is_version_index
from .impact import impact, impact_of_walk, walk_downstream

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..registry import Registry
    from ..version import ArtifactVersion

__all__ = [
    "VERSION_QUARANTINED",
    "VERSION_RELEASED",
    "Quarantine",
    "QuarantinedError",
    "blame",
    "deliver",
    "ensure_clean",
    "quarantine",
    "quarantine_of",
    "refuse_alias",
    "release",
    "tainted_by",
    "who",
]

log = logging.getLogger(__name__)

VERSION_QUARANTINED = "version.quarantined"
VERSION_RELEASED = "version.released"
MAX_REASON = 4000


class QuarantinedError(ArtiflowError):
    """A quarantined version, or one built from it, was asked for through an alias (or an alias
    was to be moved onto it). ``root`` is the quarantined version's ref, ``reason`` why,
    ``ref`` the version that was refused."""

    def __init__(self, message: str, *, ref: str, root: str, reason: str) -> None:
        super().__init__(message)
        self.ref = ref
        self.root = root
        self.reason = reason


@dataclass(frozen=True)
class Quarantine:
    """One quarantine of a version: who put it, when and why; who released it, when, why."""

    ref: str
    reason: str
    by: str | None
    at: dt.datetime
    released_at: dt.datetime | None = None
    released_by: str | None = None
    release_note: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "reason": self.reason,
            "by": self.by,
            "at": self.at.isoformat(),
            "active": self.active,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
            "release_note": self.release_note,
        }


def who() -> str:
    """Who acts here: ``$ARTIFLOW_USER``, else the login name (``unknown`` if there is none).

    Example:
        >>> isinstance(who(), str)
        True
    """
    name = os.environ.get("ARTIFLOW_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "unknown"


def _record(ref: str, d: dict[str, Any]) -> Quarantine:
    return Quarantine(
        ref, d["reason"], d["by"], d["at"], d["released_at"], d["released_by"], d["release_note"]
    )


def _target(registry: Registry, ref: Any) -> ArtifactVersion:
    from ..version import ArtifactVersion

    if isinstance(ref, ArtifactVersion):
        return ref
    return registry.get(ref, allow_quarantined=True)


def _events(
    registry: Registry,
    kind: str,
    root: ArtifactVersion,
    record: Quarantine,
    found: dict[int, tuple[int, int | None, str | None]] | None = None,
) -> list[RegistryEvent]:
    """One event per affected collection: the root's, then every collection built from it
    (``found``: the downstream walk already made, else one is made)."""
    result = impact(registry, root) if found is None else impact_of_walk(registry, root, found)
    groups: dict[tuple[str, str], list[Any]] = {(root.project, root.collection): []}
    for v in result.versions:
        groups.setdefault((v.project, v.collection), []).append(v)
    events = []
    for (project, name), vs in groups.items():
        refs = [root.ref] if (project, name) == (root.project, root.collection) else []
        refs += [v.ref for v in vs]
        first = vs[0] if not refs or refs[0] != root.ref else None
        aliases = sorted({a for v in vs for a in v.aliases})
        if first is None:
            aliases = sorted({*aliases, *root.aliases})
        events.append(
            RegistryEvent(
                kind,
                project,
                name,
                root.ref if first is None else first.ref,
                root.version if first is None else first.version,
                root.index if first is None else first.index,
                root.digest if first is None else None,
                aliases,
                details={
                    "root": root.ref,
                    "reason": record.reason,
                    "by": record.released_by if kind == VERSION_RELEASED else record.by,
                    "affected": refs,
                },
            )
        )
    return events


def deliver(subscribers: Iterable[Callable[[RegistryEvent], object]], event: RegistryEvent) -> None:
    """Call each subscriber with ``event``; a failing subscriber is logged, never raised (the
    change it reports is committed already).

    Example:
        >>> seen = []
        >>> deliver([seen.append], RegistryEvent("version.quarantined", "p", "n", None, None, None, None))
        >>> seen[0].kind
        'version.quarantined'
    """
    for callback in list(subscribers):
        try:
            callback(event)
        except Exception:
            log.exception("artiflow: event subscriber %r failed on %s", callback, event.kind)


def quarantine(registry: Registry, ref: Any, reason: str, *, by: str | None = None) -> Quarantine:
    """Quarantine the version ``ref`` names (give ``vN`` to be exact) because of ``reason``.

    Raises :class:`ConflictError` when it is quarantined already (release it first).

    Example:
        >>> # quarantine(registry, "bike-dataset:v3", "sensor 7 sent zeros all week")
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidRefError("a quarantine needs a reason: say what is wrong with the version")
    if len(reason) > MAX_REASON:
        raise InvalidRefError(f"the reason is {len(reason)} characters; keep it to {MAX_REASON}")
    version = _target(registry, ref)
    actor = by or who()
    with registry.catalog.read() as conn:
        existing = sql.active_quarantines(conn, [version.id]).get(version.id)
        mark = sql.taint_watermark(conn)  # before the walk: what it sees completely
    if existing is not None:
        raise _already(version, existing)
    found = walk_downstream(registry, version.id)  # every depth: the taint, stored once
    taints = [(vid, d) for vid, (d, _p, _r) in found.items() if vid != version.id]
    with registry.catalog.write() as conn:
        existing = sql.active_quarantines(conn, [version.id]).get(version.id)
        if existing is not None:  # quarantined meanwhile by someone else
            raise _already(version, existing)
        row = sql.insert_quarantine(conn, version.id, reason.strip(), actor, taints, mark)
    record = _record(version.ref, row)
    for event in _events(registry, VERSION_QUARANTINED, version, record, found):
        registry.publish(event)
    return record


def _already(version: ArtifactVersion, existing: dict[str, Any]) -> ConflictError:
    return ConflictError(
        f"{version.ref} is quarantined already (since {existing['at']:%Y-%m-%d %H:%M} "
        f"by {existing['by']}: {existing['reason']}); release it first to change why"
    )


def release(
    registry: Registry,
    ref: Any,
    *,
    by: str | None = None,
    note: str | None = None,
) -> Quarantine:
    """Release the quarantine of ``ref``: it and what was built from it resolve again
    (unless another quarantine upstream still taints them).

    Example:
        >>> # release(registry, "bike-dataset:v3", note="false alarm: sensor recalibrated")
    """
    version = _target(registry, ref)
    actor = by or who()
    with registry.catalog.write() as conn:
        row = sql.release_quarantine(conn, version.id, actor, note)
    if row is None:
        raise ArtifactNotFoundError(
            f"{version.ref} is not quarantined; nothing to release (see `artiflow impact "
            f"{version.ref}`)"
        )
    record = _record(version.ref, row)
    for event in _events(registry, VERSION_RELEASED, version, record):
        registry.publish(event)
    return record


def quarantine_of(
    registry: Registry | RegistryContext, version: ArtifactVersion
) -> Quarantine | None:
    """The active quarantine of ``version`` itself, or None."""
    with registry.catalog.read() as conn:
        row = sql.active_quarantines(conn, [version.id]).get(version.id)
    return _record(version.ref, row) if row is not None else None


def blame(
    registry: Registry | RegistryContext, version_id: int
) -> tuple[int, dict[str, Any]] | None:
    """The nearest active quarantine at or upstream of ``version_id``, as ``(quarantined version
    id, record)``, or None when the version is clean.

    One query whatever is quarantined: the taint each quarantine stored when it was made
    (``quarantine_taints``) answers for every version that existed then. Only a version newer
    than that (its id above the quarantines' smallest watermark) is walked upstream, level by
    level, until versions the taint covers; the first level with a hit wins.
    """
    with registry.catalog.read() as conn:
        hits, active, mark = sql.quarantine_state(conn, version_id)
        if not active:
            return None
        if hits:
            row = sql.quarantine_by_id(conn, min(hits)[1])
            return int(row["version_id"]), row
        if version_id <= mark:
            return None
        seen = {version_id}
        level = [version_id]
        while level:
            nxt = []
            for _v, _run, src in sql.upstream_steps(conn, level):
                if src not in seen:
                    seen.add(src)
                    nxt.append(src)
            found = sql.taint_hits(conn, nxt)
            if found:
                _d, row = min(
                    ((d, r) for per in found.values() for d, r in per),
                    key=lambda x: (x[0], x[1]["version_id"]),
                )
                return int(row["version_id"]), row
            level = [v for v in nxt if v > mark]  # older ones: the stored taint is complete
    return None


def root_of(registry: Registry | RegistryContext, version_id: int) -> Quarantine | None:
    """The nearest active quarantine at or upstream of ``version_id`` as a record, or None.

    Example:
        >>> # root_of(registry, version.id)
    """
    found = blame(registry, version_id)
    if found is None:
        return None
    vid, row = found
    return _record(registry.catalog.version_by_id(vid).ref, row)


def tainted_by(registry: Registry | RegistryContext, version: ArtifactVersion) -> Quarantine | None:
    """The nearest quarantine *upstream* of ``version`` (not its own), or None when no
    quarantined version is upstream."""
    with registry.catalog.read() as conn:
        if not sql.any_active_quarantine(conn):
            return None
        parents = sorted({src for _v, _r, src in sql.upstream_steps(conn, [version.id])})
    best: tuple[int, Quarantine] | None = None
    for p in parents:
        found = blame(registry, p)
        if found is not None:
            rec = _record(registry.catalog.version_by_id(found[0]).ref, found[1])
            if best is None or found[0] < best[0]:
                best = (found[0], rec)
    return best[1] if best else None


def _refusal(version: ArtifactVersion, record: Quarantine, asked: str) -> QuarantinedError:
    own = record.ref == version.ref
    state = "is quarantined" if own else f"was built from {record.ref}, which is quarantined"
    return QuarantinedError(
        f"{version.ref} {state} ({record.reason!r}, by {record.by} at "
        f"{record.at:%Y-%m-%d %H:%M} UTC): {asked}. Inspect it as {version.ref} (vN still "
        f"resolves), see what else it affects with `artiflow impact {record.ref}`, or release "
        f"it with `artiflow release {record.ref}`",
        ref=version.ref,
        root=record.ref,
        reason=record.reason,
    )


def ensure_clean(
    registry: Registry | RegistryContext,
    version: ArtifactVersion,
    selector: str | None,
    *,
    allow: bool = False,
) -> ArtifactVersion:
    """``version`` when it may be handed out for ``selector``; :class:`QuarantinedError` when
    it was resolved through an alias (``latest`` included, or ``selector`` None: a pin the
    resolver made) and it, or a version upstream of it, is quarantined. ``vN`` and semantic
    versions always pass; so does everything with ``allow``.

    Example:
        >>> # ensure_clean(registry, version, "production")
    """
    if allow or (selector is not None and (is_version_index(selector) or is_semver(selector))):
        return version
    record = root_of(registry, version.id)
    if record is not None:
        via = f"alias {selector!r}" if selector else "a pinned input"
        raise _refusal(version, record, f"refused to resolve it through {via}")
    return version


def refuse_alias(
    registry: Registry | RegistryContext, version: ArtifactVersion, alias: str
) -> None:
    """Raise :class:`QuarantinedError` when ``alias`` would be put on a quarantined or tainted
    version (whatever asked: Python, CLI, web API, operators).

    Example:
        >>> # refuse_alias(registry, version, "production")
    """
    record = root_of(registry, version.id)
    if record is not None:
        raise _refusal(version, record, f"refused to put alias {alias!r} on it")
