"""Resolve a ref for a caller: the committed version it names, refused through an alias when it
is quarantined or tainted (:func:`artiflow._ops.quarantine.ensure_clean`).

The resolve statement itself tells whether the version may be quarantined or tainted
(:func:`artiflow._ops.query.get_hinted`), so the quarantine check runs only then. The task
runtime's resolver (:mod:`artiflow._tasking.resolver`) adds run pins and locks on top.

The example of :mod:`artiflow._ops.quarantine` shows both sides through ``Registry.get``.

Example:
    >>> import tempfile
    >>> from artiflow import ArtifactNotFoundError, Registry
    >>> try:
    ...     get(Registry(home=tempfile.mkdtemp()).context, "notes:production")
    ... except ArtifactNotFoundError as exc:
    ...     print(exc)
    artifact default/notes does not exist (asked for default/notes:production); ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .quarantine import ensure_clean
from .query import get_hinted

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..refs import Ref
    from ..version import ArtifactVersion

__all__ = ["get"]


def get(
    ctx: RegistryContext, ref: str | Ref, *, allow_quarantined: bool = False
) -> ArtifactVersion:
    """The committed version ``ref`` names (:meth:`Registry.get`): through an alias a
    quarantined or tainted one raises :class:`~artiflow.QuarantinedError` unless
    ``allow_quarantined``; ``vN`` and semantic versions always resolve.

    Example:
        >>> # get(registry.context, "bike-dataset:production")
    """
    r = ctx.parse(ref)
    version, needs_check = get_hinted(ctx, r)
    if not needs_check:  # neither quarantined nor possibly tainted: no second statement
        return version
    return ensure_clean(ctx, version, r.selector, allow=allow_quarantined)
