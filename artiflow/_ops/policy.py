"""Checks on versions and promotion policy for aliases, with an audit of every alias move.

``version.add_check(name, passed, details=None)`` records a check result (the newest result of
a name counts). ``Registry.protect(name, alias, require_checks=(...), require_clean_upstream=True)``
makes an alias protected: moving it (Python, CLI, web API, operators: every path that goes
through ``Registry.alias`` or ``version.save()``) requires each named check to have passed on the
target, and, with ``require_clean_upstream``, no failed check on the target or on any version
upstream of it (quarantined and tainted versions are refused anyway). Otherwise
:class:`PolicyError` lists what is missing and nothing moves. Every alias move is audited: who
or what moved it (the run, the user), how (``via``), when, and the evidence (the checks and
upstream versions it relied on).

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> a = Artifact("model")
    >>> with a.new_file("w.bin") as f:
    ...     _ = f.write("w")
    >>> v = reg.log(a)
    >>> protect(reg, "model", "production", require_checks=["auc"])
    >>> try:
    ...     reg.alias("model:v0", "production")
    ... except PolicyError as exc:
    ...     print(exc.missing)
    ['check auc has not passed on default/model:v0 (no result)']
    >>> _ = add_check(reg, v, "auc", True, {"auc": 0.93})
    >>> reg.alias("model:v0", "production").aliases
    ['latest', 'production']
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import control_sql as sql
from ..catalog import upstream_closure
from ..exceptions import ArtiflowError, InvalidRefError
from ..limits import validate_json
from ..refs import LATEST, validate_alias, validate_name
from .quarantine import QuarantinedError, refuse_alias, root_of, who

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..registry import Registry
    from ..runs import Run
    from ..version import ArtifactVersion

__all__ = [
    "Check",
    "PolicyError",
    "acting_as",
    "add_check",
    "alias_audit",
    "audit_alias_moves",
    "checks",
    "guard_alias_moves",
    "guard_link_aliases",
    "guard_log_aliases",
    "protect",
    "with_audit",
]

_ACTOR: ContextVar[tuple[str, str] | None] = ContextVar("artiflow_actor", default=None)


class PolicyError(ArtiflowError):
    """An alias move that its protection forbids; ``missing`` lists each unmet requirement."""

    def __init__(self, message: str, missing: Sequence[str]) -> None:
        super().__init__(message)
        self.missing = list(missing)


@dataclass(frozen=True)
class Check:
    """One check result on a version."""

    name: str
    passed: bool
    details: Any
    by: str | None
    at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "details": self.details,
            "by": self.by,
            "at": self.at.isoformat(),
        }


@contextlib.contextmanager
def acting_as(via: str, by: str | None = None) -> Iterator[None]:
    """Attribute the alias moves inside the block to ``via`` (``cli``, ``web``, ``airflow``...)
    and ``by`` (default: :func:`~artiflow._ops.quarantine.who`).

    Example:
        >>> with acting_as("cli"):
        ...     pass
    """
    token = _ACTOR.set((via, by or who()))
    try:
        yield
    finally:
        _ACTOR.reset(token)


def add_check(
    registry: Registry | RegistryContext,
    version: ArtifactVersion,
    name: str,
    passed: bool,
    details: Any = None,
    *,
    by: str | None = None,
) -> Check:
    """Record a check result on ``version`` (the newest result of ``name`` counts).

    Example:
        >>> # add_check(registry, version, "schema", True, {"rows": 1200})
    """
    validate_name(name, "check")
    if not isinstance(passed, bool):
        raise InvalidRefError(f"check {name!r}: passed must be True or False, not {passed!r}")
    if details is not None:
        validate_json("check details", details)
    with registry.catalog.write() as conn:
        row = sql.insert_check(conn, version.id, name, passed, details, by or who())
    return Check(row["name"], row["passed"], row["details"], row["by"], row["at"])


def checks(registry: Registry | RegistryContext, version: ArtifactVersion) -> list[Check]:
    """Every check result of ``version``, oldest first."""
    with registry.catalog.read() as conn:
        rows = sql.checks_of(conn, [version.id]).get(version.id, [])
    return [Check(r["name"], r["passed"], r["details"], r["by"], r["at"]) for r in rows]


def _collection_id(registry: Registry | RegistryContext, version: ArtifactVersion) -> int:
    return registry.catalog.version_by_id(version.id).collection_id


def protect(
    registry: Registry | RegistryContext,
    name: str,
    alias: str,
    require_checks: Iterable[str] = (),
    require_clean_upstream: bool = True,
    *,
    by: str | None = None,
) -> None:
    """Protect ``alias`` of the collection ``name`` (see the module docstring).

    Example:
        >>> # protect(registry, "bike-demand-model", "production", require_checks=["backtest"])
    """
    validate_alias(alias)
    if alias == LATEST:
        raise InvalidRefError("latest is managed by artiflow and cannot be protected")
    if isinstance(require_checks, str):
        require_checks = [require_checks]
    names = [validate_name(c, "check") for c in dict.fromkeys(require_checks)]
    r = registry.parse(name)
    coll = registry.catalog.collection(r.project, r.name)
    if coll is None:
        from ..exceptions import ArtifactNotFoundError

        raise ArtifactNotFoundError(f"artifact {r.project}/{r.name} does not exist; log it first")
    with registry.catalog.write() as conn:
        sql.set_protection(conn, coll.id, alias, names, require_clean_upstream, by or who())


def _latest_results(rows: list[dict[str, Any]]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for r in rows:
        out[r["name"]] = r["passed"]
    return out


def _upstream_ids(registry: Registry | RegistryContext, version_id: int) -> list[int]:
    with registry.catalog.read() as conn:
        return upstream_closure(conn, version_id)  # one recursive query (catalog/_closure.py)


def _evidence(
    registry: Registry | RegistryContext, version: ArtifactVersion, rules: dict[str, Any] | None
) -> tuple[dict[str, Any], list[str]]:
    """The evidence for putting an alias on ``version`` and, under ``rules``, what is missing."""
    up = _upstream_ids(registry, version.id)
    with registry.catalog.read() as conn:
        results = sql.checks_of(conn, [version.id, *up])
    own = _latest_results(results.get(version.id, []))
    rows = registry.catalog.versions_by_ids(up)
    missing = []
    if rules is not None:
        for name in rules["require_checks"]:
            if own.get(name) is not True:
                state = "failed" if name in own else "no result"
                missing.append(f"check {name} has not passed on {version.ref} ({state})")
        if rules["require_clean_upstream"]:
            for name, ok in sorted(own.items()):
                if not ok and name not in rules["require_checks"]:
                    missing.append(f"check {name} failed on {version.ref}")
            for vid in up:
                for name, ok in sorted(_latest_results(results.get(vid, [])).items()):
                    if not ok:
                        ref = rows[vid].ref if vid in rows else f"#{vid}"
                        missing.append(f"check {name} failed on {ref} (upstream)")
    evidence = {
        "checks": {name: ok for name, ok in sorted(own.items())},
        "upstream": sorted(rows[v].ref for v in up if v in rows),
        "rules": None
        if rules is None
        else {
            "require_checks": rules["require_checks"],
            "require_clean_upstream": rules["require_clean_upstream"],
        },
    }
    return evidence, missing


def guard_alias_moves(
    registry: Registry | RegistryContext,
    version: ArtifactVersion,
    aliases: Iterable[str],
    run: Run | None,
) -> None:
    """Refuse to put any of ``aliases`` on ``version`` when it is quarantined or tainted
    (:class:`~artiflow.QuarantinedError`) or an alias is protected and its rules are not met
    (:class:`PolicyError`). Nothing is written.

    Example:
        >>> # guard_alias_moves(registry, version, ["production"], None)
    """
    names = [a for a in aliases if a != LATEST]
    if not names:
        return
    cid = _collection_id(registry, version)
    for alias in names:
        refuse_alias(registry, version, alias)
        with registry.catalog.read() as conn:
            rules = sql.protection_of(conn, cid, alias)
        if rules is None:
            continue
        _unused, missing = _evidence(registry, version, rules)
        if missing:
            raise PolicyError(
                f"{version.project}/{version.collection}:{alias} is protected; it was not moved "
                f"to {version.version}: " + "; ".join(missing) + ". Record the checks with "
                "version.add_check(...) (or fix upstream), then move it again",
                missing,
            )


def guard_link_aliases(
    registry: Registry | RegistryContext,
    source: ArtifactVersion,
    project: str,
    name: str,
    aliases: Iterable[str],
) -> None:
    """Check the aliases a ``link`` of ``source`` into ``project/name`` would set: refused when
    ``source`` is quarantined or tainted, or an alias of the registry collection is protected
    and ``source`` (whose content the member is) does not meet its rules.

    Example:
        >>> # guard_link_aliases(registry, version, "model-registry", "bike", ["production"])
    """
    names = [a for a in aliases if a != LATEST]
    coll = registry.catalog.collection(project, name) if names else None
    for alias in names:
        refuse_alias(registry, source, alias)
        if coll is None:
            continue
        with registry.catalog.read() as conn:
            rules = sql.protection_of(conn, coll.id, alias)
        if rules is None:
            continue
        _unused, missing = _evidence(registry, source, rules)
        if missing:
            raise PolicyError(
                f"{project}/{name}:{alias} is protected; {source.ref} was not linked with it: "
                + "; ".join(missing),
                missing,
            )


def guard_log_aliases(
    registry: Registry | RegistryContext,
    items: Iterable[tuple[str, str, Sequence[str]]],
    run: Run | None,
) -> None:
    """Check the aliases a ``log`` would put on new versions (``(project, name, aliases)`` per
    draft), before anything is stored: refused when the run consumed a quarantined or tainted
    version (:class:`~artiflow.QuarantinedError`), or an alias is protected and requires checks
    (a version not logged yet has none) or a clean upstream the run's inputs do not have
    (:class:`PolicyError`).

    Example:
        >>> # guard_log_aliases(registry, [("default", "model", ["production"])], run)
    """
    wanted = [(p, n, a) for p, n, names in items for a in names if a != LATEST]
    if not wanted:
        return
    used = run.used_artifacts() if run is not None else []
    for u in used:
        record = root_of(registry, u.id)
        if record is not None:
            p, n, a = wanted[0]
            raise QuarantinedError(
                f"{p}/{n}: refused to put alias {a!r} on the new version: its run consumed "
                f"{u.ref}, built from {record.ref}, which is quarantined ({record.reason!r}); "
                "log it without the alias, or release the quarantine",
                ref=f"{p}/{n}",
                root=record.ref,
                reason=record.reason,
            )
    for p, n, a in wanted:
        coll = registry.catalog.collection(p, n)
        if coll is None:
            continue
        with registry.catalog.read() as conn:
            rules = sql.protection_of(conn, coll.id, a)
        if rules is None:
            continue
        missing = [
            f"check {c} has not passed on the new version (it has no checks yet)"
            for c in rules["require_checks"]
        ]
        if rules["require_clean_upstream"]:
            ids = sorted({i for u in used for i in (u.id, *_upstream_ids(registry, u.id))})
            with registry.catalog.read() as conn:
                results = sql.checks_of(conn, ids)
            rows = registry.catalog.versions_by_ids(ids)
            for vid in ids:
                for name, ok in sorted(_latest_results(results.get(vid, [])).items()):
                    if not ok:
                        missing.append(f"check {name} failed on {rows[vid].ref} (upstream)")
        if missing:
            raise PolicyError(
                f"{p}/{n}:{a} is protected; a log cannot put it on a new version: "
                + "; ".join(missing)
                + ". Log without the alias, record the checks, then move it with "
                "registry.alias(...)",
                missing,
            )


def audit_alias_moves(
    registry: Registry | RegistryContext,
    version: ArtifactVersion,
    aliases: Iterable[str],
    run: Run | None,
) -> None:
    """Record who or what put each of ``aliases`` on ``version``, how, and the evidence.

    Example:
        >>> # audit_alias_moves(registry, version, ["production"], run)
    """
    names = [a for a in aliases if a != LATEST]
    if not names:
        return
    cid = _collection_id(registry, version)
    actor = _ACTOR.get()
    via, by = actor if actor is not None else ("python", who())
    if run is not None:
        by = f"run:{run.id}"
        via = f"{run.orchestrator}:{run.pipeline or ''}/{run.task or run.name}"
    for alias in names:
        with registry.catalog.read() as conn:
            rules = sql.protection_of(conn, cid, alias)
        evidence, _missing = _evidence(registry, version, rules)
        with registry.catalog.write() as conn:
            sql.insert_audit(conn, cid, alias, version.id, by, via, evidence)


def alias_audit(
    registry: Registry | RegistryContext,
    name: str,
    alias: str | None = None,
    limit: int | None = 100,
) -> list[dict[str, Any]]:
    """The audit of a collection's alias moves, newest first: ``alias``, ``version``,
    ``moved_by``, ``via``, ``evidence``, ``at`` (``limit`` None: every record).

    Example:
        >>> # alias_audit(registry, "bike-demand-model", "production")[0]["evidence"]
    """
    r = registry.parse(name)
    coll = registry.catalog.collection(r.project, r.name)
    if coll is None:
        return []
    with registry.catalog.read() as conn:
        return sql.audit_of(conn, coll.id, alias, limit)


_SAME_MOVE = dt.timedelta(seconds=5)


def with_audit(
    registry: Registry | RegistryContext, name: str, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``events`` (alias-history dicts with ``alias``, ``version``, ``at``; newest first), each
    with ``moved_by`` and ``via`` from the audit record of that move (None when none was
    recorded: a removal, or an alias put by ``log``). A record belongs to the newest event of
    the same alias and version within 5 seconds that no newer record took.

    Example:
        >>> # with_audit(registry, "model", [{"alias": "production", "version": "v1", "at": "..."}])
    """
    audits = alias_audit(registry, name, limit=None)
    free: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for a in audits:
        free.setdefault((a["alias"], a["version"]), []).append(a)
    out = []
    for e in events:
        match = None
        at = e.get("at")
        when = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
        candidates = free.get((str(e.get("alias")), e.get("version")), [])
        for i, a in enumerate(candidates):
            if when is None or a["at"] is None or abs(sql.aware(when) - a["at"]) <= _SAME_MOVE:
                match = candidates.pop(i)
                break
        out.append(
            {
                **e,
                "moved_by": match["moved_by"] if match else None,
                "via": match["via"] if match else None,
            }
        )
    return out
