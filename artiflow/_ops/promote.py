"""Promote a version: move an alias onto it (:func:`alias`) or link it into a registry
collection with aliases (:func:`link`), each behind the lineage-control guards.

A quarantined or tainted version takes no alias (:class:`~artiflow.QuarantinedError`) and a
protected alias moves only when its rules are met (:class:`~artiflow.PolicyError`); both are
checked before anything is written (:mod:`artiflow._ops.policy`). An alias move is recorded in
the alias audit afterwards. The writes themselves are :func:`artiflow._ops.labels.alias` and
:func:`artiflow._ops.log.link`.

Example:
    >>> import tempfile
    >>> from artiflow import InvalidRefError, Registry
    >>> ctx = Registry(home=tempfile.mkdtemp()).context
    >>> try:  # a bad ``expected`` fails before the lookup
    ...     alias(ctx, "churn-model:v7", "production", expected="v-six")
    ... except InvalidRefError as exc:
    ...     print(exc)
    expected='v-six': give the version the alias is on now ('v3'), or 'none' ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import labels as _labels
from . import log as _log
from .policy import audit_alias_moves, guard_alias_moves, guard_link_aliases
from .resolve import get

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..refs import Ref
    from ..runs import Run
    from ..version import ArtifactVersion

__all__ = ["alias", "link"]


def alias(
    ctx: RegistryContext,
    ref: str | Ref,
    name: str,
    run: Run | None = None,
    *,
    expected: str | None = None,
) -> ArtifactVersion:
    """Put alias ``name`` on the version ``ref`` names (:meth:`Registry.alias`): a bad
    ``expected`` fails before the lookup; a quarantined or tainted target, or a protected alias
    whose rules are not met, is refused before the write; the move is audited after it.

    Example:
        >>> # alias(registry.context, "churn-model:v7", "production", expected="v6")
    """
    _labels.expected_index(expected)  # a bad ``expected`` fails before the lookup
    run_id = run.id if run is not None else None
    version = get(ctx, ref, allow_quarantined=True)  # refused below, with the reason
    guard_alias_moves(ctx, version, [name], run)  # quarantine + policy
    row = _labels.alias(ctx, version, name, run_id, expected=expected)
    audit_alias_moves(ctx, version, [name], run)
    return ctx.version(row)


def link(
    ctx: RegistryContext,
    source: ArtifactVersion,
    target: str,
    aliases: str | Iterable[str] = (),
) -> ArtifactVersion:
    """Link ``source`` into the registry collection ``target`` (:meth:`Registry.link`) with
    ``aliases`` (one alias may be given as a string), refused before the write when
    ``source`` is quarantined or tainted or a protected alias's rules are not met.

    Example:
        >>> # link(registry.context, version, "model-registry/churn", ["production"])
    """
    alias_list = [aliases] if isinstance(aliases, str) else list(aliases)
    t = ctx.parse(target)
    guard_link_aliases(ctx, source, t.project, t.name, alias_list)
    return _log.link(ctx, source, target, alias_list)
