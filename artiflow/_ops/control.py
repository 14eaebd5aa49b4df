"""The lineage-control verbs as the ``Registry`` facade exposes them (one place to hook).

``Registry.impact`` / ``quarantine`` / ``release`` are these functions; ``Registry.get``
(:mod:`.resolve`) and the alias paths (:mod:`.promote`) call :func:`ensure_clean` and the
guards of :mod:`.policy`. The work is done in
:mod:`.impact`, :mod:`.quarantine`, :mod:`.stale`, :mod:`.policy` and :mod:`.diff`.

Example:
    >>> import tempfile
    >>> from artiflow import Registry
    >>> Registry.impact is impact_method
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .diff import LineageDiff, diff
from .impact import Impact, impact
from .policy import (
    alias_audit,
    audit_alias_moves,
    guard_alias_moves,
    guard_link_aliases,
    guard_log_aliases,
    protect,
)
from .quarantine import Quarantine, deliver, ensure_clean, quarantine, release
from .stale import OverdueAlias, StaleVersion, overdue, set_max_age, stale

if TYPE_CHECKING:
    from ..registry import Registry

__all__ = [
    "alias_audit_method",
    "audit_alias_moves",
    "deliver",
    "diff_method",
    "ensure_clean",
    "guard_alias_moves",
    "guard_link_aliases",
    "guard_log_aliases",
    "impact_method",
    "overdue_method",
    "protect_method",
    "quarantine_method",
    "release_method",
    "set_max_age_method",
    "stale_method",
]


def impact_method(self: Registry, ref: Any, depth: int | None = None) -> Impact:
    """Every version built from ``ref`` (transitively, through consumed edges of every
    orchestrator and registry links), every alias pointing at one of them, and each path.

    Example:
        >>> # registry.impact("bike-dataset:v3").by_collection()
    """
    return impact(self, ref, depth)


def quarantine_method(
    self: Registry, ref: Any, reason: str, *, by: str | None = None
) -> Quarantine:
    """Mark the version ``ref`` bad: it and everything built from it refuse resolution through
    aliases (:class:`~artiflow.QuarantinedError`) until :meth:`release`.

    Example:
        >>> # registry.quarantine("bike-dataset:v3", "sensor 7 sent zeros")
    """
    return quarantine(self, ref, reason, by=by)


def release_method(
    self: Registry, ref: Any, *, by: str | None = None, note: str | None = None
) -> Quarantine:
    """End the quarantine of ``ref`` (recorded with who, when and ``note``).

    Example:
        >>> # registry.release("bike-dataset:v3", note="false alarm")
    """
    return release(self, ref, by=by, note=note)


def stale_method(self: Registry, ref: Any = None) -> list[StaleVersion]:
    """Stale versions (an alias their producing run consumed through points elsewhere now):
    ``ref``'s alone, or every version holding an alias; each with the inputs that moved.

    Example:
        >>> # [(s.ref, [m.to_dict() for m in s.moved]) for s in registry.stale()]
    """
    return stale(self, ref)


def diff_method(self: Registry, a: Any, b: Any) -> LineageDiff:
    """What differs between two versions of one collection: upstream versions (with digests),
    run parameters and metadata, and the files (added, removed, changed, sizes).

    Example:
        >>> # print(registry.diff("model:v4", "model:v5").describe())
    """
    return diff(self, a, b)


def protect_method(
    self: Registry,
    name: str,
    alias: str,
    require_checks: Iterable[str] = (),
    require_clean_upstream: bool = True,
    *,
    by: str | None = None,
) -> None:
    """Protect ``alias`` of ``name``: moving it requires ``require_checks`` to have passed on
    the target and (``require_clean_upstream``) no failed check on it or upstream of it;
    otherwise :class:`~artiflow.PolicyError` lists what is missing.

    Example:
        >>> # registry.protect("bike-demand-model", "production", require_checks=["backtest"])
    """
    protect(self, name, alias, require_checks, require_clean_upstream, by=by)


def alias_audit_method(self: Registry, name: str, alias: str | None = None) -> list[dict[str, Any]]:
    """Who or what moved the aliases of ``name`` (run, user, command), when, with the evidence.

    Example:
        >>> # registry.alias_audit("bike-demand-model", "production")[0]["moved_by"]
    """
    return alias_audit(self, name, alias)


def set_max_age_method(
    self: Registry, name: str, alias: str, max_age: Any, *, by: str | None = None
) -> int | None:
    """Give ``alias`` of ``name`` a maximum age (seconds, a ``timedelta`` or ``"1d"``; None
    removes it): older than that, the version it points at makes the alias *overdue*.

    Example:
        >>> # registry.set_max_age("bike-dataset", "production", "1d")
    """
    return set_max_age(self, name, alias, max_age, by=by)


def overdue_method(self: Registry, *, emit: bool = False) -> list[OverdueAlias]:
    """The aliases older than their maximum age; ``emit`` sends one ``alias.overdue`` event per
    alias and version the first time (call it on a schedule: the registry runs no timer).

    Example:
        >>> # [o.alias_ref for o in registry.overdue(emit=True)]
    """
    return overdue(self, emit=emit)
