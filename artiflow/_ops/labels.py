"""Labels: put an alias on a version (optionally compare-and-set), save edited labels, delete a
version. Each returns the new catalog record and announces alias moves on the event bus.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("notes")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("hi")
    >>> v = reg.log(draft)
    >>> alias(reg.context, v, "production", expected="none").aliases
    ('latest', 'production')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidRefError
from ..limits import validate_version_fields
from ..refs import is_version_index, validate_alias

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..catalog import LabelEdit, VersionRow
    from ..version import ArtifactVersion

__all__ = ["alias", "check_edit", "delete", "expected_index", "save"]


def expected_index(expected: str | None) -> Any:
    """``expected`` of :meth:`Registry.alias` as the catalog takes it: ``...`` (no check),
    None (``"none"``: the alias must not be set) or a version index (``"v3"``)."""
    if expected is None:
        return ...
    if expected == "none":
        return None
    if is_version_index(expected):
        return int(expected[1:])
    raise InvalidRefError(
        f"expected={expected!r}: give the version the alias is on now ('v3'), or "
        "'none' when it must not be set"
    )


def alias(
    ctx: RegistryContext,
    version: ArtifactVersion,
    name: str,
    run_id: str | None = None,
    *,
    expected: str | None = None,
) -> VersionRow:
    """Put alias ``name`` on ``version``, moving it atomically from any other version."""
    validate_alias(name)
    want = expected_index(expected)
    row, move = ctx.catalog.set_alias(version.id, name, run_id, expected=want)
    ctx.bus.publish(row, False, [move] if move else [], run_id)
    return row


def check_edit(ctx: RegistryContext, description: object, metadata: object) -> None:
    """Check an edit of a logged version (``save()``) against ``limits.LIMITS``."""
    validate_version_fields(
        description=description,
        metadata=metadata if metadata is not None else {},
        max_metadata_bytes=ctx.max_metadata_bytes,
    )


def save(ctx: RegistryContext, version_id: int, edit: LabelEdit) -> VersionRow:
    """Write one label edit (see :meth:`ArtifactVersion.save`); returns the new record."""
    row, moves = ctx.catalog.update_version(version_id, edit)
    ctx.bus.publish(row, False, moves, None)
    return row


def delete(ctx: RegistryContext, version_id: int, delete_aliases: bool) -> VersionRow:
    """Mark a version DELETED (see :meth:`ArtifactVersion.delete`); returns the new record."""
    row, moves = ctx.catalog.delete_version(version_id, delete_aliases=delete_aliases)
    ctx.bus.publish(row, False, moves, None)
    return row
