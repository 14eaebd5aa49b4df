"""Editing a logged version's labels: ``description``, ``metadata``, ``tags`` and ``aliases``,
saved as the changes since load (:meth:`VersionLabels.save`), reloaded, or the version deleted.

Example:
    >>> from artiflow.version import ArtifactVersion
    >>> ArtifactVersion.save is VersionLabels.save
    True
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Self

from .._ops import policy as _policy
from ..refs import LATEST, validate_alias, validate_name
from .core import VersionCore

if TYPE_CHECKING:
    from ..catalog import LabelEdit, VersionRow

__all__ = ["VersionLabels"]


class VersionLabels(VersionCore):
    """Edit, save, reload and delete (a part of :class:`~artiflow.ArtifactVersion`)."""

    @property
    def revision(self) -> int:
        """The revision this object was loaded at: every edit of the version's description,
        metadata, tags or aliases (also an alias moved onto or off it) raises it."""
        return self._row.revision

    def save(self, *, expected_revision: int | None = None) -> Self:
        """Persist edits to ``description``, ``metadata``, ``tags`` and ``aliases``.

        Only what changed since this object was loaded is written: one description, the
        metadata keys set or removed, the tags and aliases added or removed. Changes by other
        clients to anything else are kept (and show in this object afterwards). Changing
        something another client changed since this object was loaded raises
        :class:`ConflictError` and saves nothing: reload (``registry.get``) and apply the change
        again. ``expected_revision`` (see :attr:`revision`) refuses the save if the version was
        edited at all since that revision.

        Example:
            >>> # v.metadata["auc"] = 0.91; v.aliases.append("production"); v.save()
        """
        from .._ops import labels

        labels.check_edit(self._ctx, self.description, self.metadata)  # limits, before writing
        edit = self._changes(expected_revision)
        _policy.guard_alias_moves(
            self._ctx, self._as_version, edit.aliases_added, None
        )  # quarantine, policy
        self._refresh(labels.save(self._ctx, self._row.id, edit))
        _policy.audit_alias_moves(self._ctx, self._as_version, edit.aliases_added, None)
        return self

    def reload(self) -> Self:
        """Re-read description, metadata, tags and aliases from the registry (unsaved edits are
        dropped).

        Example:
            >>> # v.reload().aliases
        """
        self._refresh(self._ctx.catalog.version_by_id(self._row.id))
        return self

    def _changes(self, expected_revision: int | None) -> LabelEdit:
        """What the caller changed since load, validated (nothing is written here)."""
        from ..catalog import MISSING, LabelEdit

        before = self._loaded
        description = None
        if self.description != before["description"]:
            description = (before["description"], self.description)
        old_meta, new_meta = before["metadata"], self.metadata
        metadata = {
            key: (old_meta.get(key, MISSING), new_meta.get(key, MISSING))
            for key in dict.fromkeys([*old_meta, *new_meta])
            if key not in old_meta or key not in new_meta or old_meta[key] != new_meta[key]
        }
        tags = list(dict.fromkeys(self.tags))
        aliases = [a for a in dict.fromkeys(self.aliases) if a != LATEST]
        old_tags, old_aliases = set(before["tags"]), set(before["aliases"])
        tags_added = tuple(validate_name(t, "tag") for t in tags if t not in old_tags)
        aliases_added = tuple(validate_alias(a) for a in aliases if a not in old_aliases)
        return LabelEdit(
            revision=self._row.revision,
            alias_seq=self._row.alias_seq,
            description=description,
            metadata=metadata,
            tags_added=tags_added,
            tags_removed=tuple(sorted(old_tags - set(tags))),
            aliases_added=aliases_added,
            aliases_removed=tuple(sorted(old_aliases - set(aliases) - {LATEST})),
            expected_revision=expected_revision,
        )

    def delete(self, delete_aliases: bool = False) -> None:
        """Mark this version DELETED; its lineage stays, ``gc`` reclaims its blobs later.

        Example:
            >>> # registry.get("ds:v0").delete(delete_aliases=True)
        """
        from .._ops import labels, locks

        locks.ensure_not_kept(
            self._ctx, self._as_version
        )  # a kept run lock holds it: LockKeptError
        self._refresh(labels.delete(self._ctx, self._row.id, delete_aliases))

    def _refresh(self, row: VersionRow) -> None:
        """Show ``row`` and remember it as what this object loaded (the base of its next save)."""
        self._row = row
        self.description = row.description
        self.metadata = copy.deepcopy(dict(row.metadata))
        self.tags = list(row.tags)
        self.aliases = list(row.aliases)
        self._loaded: dict[str, Any] = {
            "description": row.description,
            "metadata": copy.deepcopy(dict(row.metadata)),
            "tags": tuple(row.tags),
            "aliases": tuple(row.aliases),
        }
