"""The W&B and Comet spellings on a logged version (see docs/migrating.md): each one is a
name for something :class:`~artiflow.ArtifactVersion` does under its own name.

Example:
    >>> from artiflow.version import ArtifactVersion
    >>> ArtifactVersion.get_asset is ArtifactVersion.get_entry is VersionCompat.get_entry
    True
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Self

from .._ops import policy as _policy
from ..exceptions import InvalidRefError
from ..manifest import Entry
from .core import VersionCore

if TYPE_CHECKING:
    from ..version import ArtifactVersion

__all__ = ["VersionCompat"]


class VersionCompat(VersionCore):
    """W&B's and Comet's names (a part of :class:`~artiflow.ArtifactVersion`)."""

    if TYPE_CHECKING:  # the other parts, as this one calls them

        def save(self, *, expected_revision: int | None = None) -> Self: ...
        def delete(self, delete_aliases: bool = False) -> None: ...
        def to_dict(self) -> dict[str, Any]: ...
        def get_path(self, name: str) -> Entry: ...

    @property
    def entity(self) -> str:
        """W&B's ``entity``: the project of this version."""
        return self._row.project

    def is_draft(self) -> bool:
        """False: a logged version (W&B's ``is_draft()``; a draft :class:`Artifact` says True)."""
        return False

    def wait(self, timeout: float | None = None) -> Self:
        """This version (W&B's ``wait()``): logging here is synchronous, so it is committed.

        Example:
            >>> # v = registry.log(draft).wait()
        """
        return self

    @property
    def source_version(self) -> str:
        """The ``vN`` of the version this one links (itself when it is no registry member).

        Example:
            >>> # registry.link("model:v7", "registry/churn").source_version == "v7"
        """
        return (self.linked_version or self).version

    @property
    def source_name(self) -> str:
        """``"name:vN"`` of the version this one links (itself when no registry member)."""
        source = self.linked_version or self
        return f"{source.collection_name}:{source.version}"

    @property
    def commit_hash(self) -> str:
        """W&B's ``commit_hash``: here the version digest (BLAKE3 of the manifest), which
        names what was committed."""
        return self.digest

    @property
    def updated_at(self) -> dt.datetime:
        """When this version last changed: its commit or the newest alias move onto or off it
        (edits of description, metadata and tags carry no time of their own).

        Example:
            >>> # registry.get("ds:production").updated_at >= registry.get("ds:production").created_at
        """
        newest = self.created_at
        mine = {self.version}
        for event in self._ctx.catalog.alias_events(self.project, self.collection_name, None):
            if (event.version in mine or event.previous in mine) and event.at > newest:
                newest = event.at
        return newest

    @property
    def version_tags(self) -> list[str]:
        """Comet's ``version_tags``: the tags of this version (edit, then :meth:`save`)."""
        return self.tags

    @version_tags.setter
    def version_tags(self, value: list[str]) -> None:
        self.tags = list(value)

    def update_version_tags(self, version_tags: list[str]) -> Self:
        """Comet's ``update_version_tags``: make these the tags of this version and save.

        Example:
            >>> # v.update_version_tags(["reviewed"])
        """
        self.tags = list(version_tags)
        return self.save()

    def update_aliases(self, aliases: list[str]) -> Self:
        """Comet's ``update_aliases``: make these the aliases of this version and save
        (``latest`` stays managed by artiflow).

        Example:
            >>> # v.update_aliases(["production"])
        """
        self.aliases = list(aliases)
        return self.save()

    @property
    def artifact_type(self) -> str:
        """Comet's ``artifact_type``: :attr:`type`."""
        return self._row.type

    def json_encode(self) -> dict[str, Any]:
        """W&B's ``json_encode()``: :meth:`to_dict` marked ``"_type": "artifactVersion"``.

        Example:
            >>> # registry.get("ds:v0").json_encode()["_type"]
        """
        return {"_type": "artifactVersion", **self.to_dict()}

    def get_entry(self, name: str) -> Entry:
        """The entry at ``name`` (W&B's ``get_entry``; Comet's ``get_asset``): its digest,
        size, reference URI, metadata and asset type, without downloading.

        Example:
            >>> # v.get_entry("rows.csv").metadata
        """
        return self.get_path(name)

    get = get_entry
    get_asset = get_entry
    __getitem__ = get_entry

    @property
    def assets(self) -> list[Entry]:
        """Comet's ``assets``: every entry, without downloading (see :meth:`files`)."""
        return list(self.manifest.entries.values())

    def link(
        self, target_path: str, aliases: list[str] | tuple[str, ...] | None = None
    ) -> ArtifactVersion:
        """Link this version into the registry collection ``target_path``
        (``"registry-name/collection"``; W&B's ``link``); returns the member. No content is
        copied. Same as :meth:`Registry.link`.

        Example:
            >>> # member = v.link("model-registry/churn", aliases=["production"])
        """
        from .._ops.log import link

        alias_list = [aliases] if isinstance(aliases, str) else list(aliases or ())
        if isinstance(target_path, str) and ":" not in target_path:  # else link() says why
            t = self._ctx.parse(target_path)
            _policy.guard_link_aliases(self._ctx, self._as_version, t.project, t.name, alias_list)
        return link(self._ctx, self._as_version, target_path, alias_list)

    def unlink(self) -> None:
        """Remove this registry member (W&B's ``unlink``): it is deleted with its aliases; the
        version it links is untouched. Raises :class:`InvalidRefError` on a version that is
        no registry member (use :meth:`delete` for those).

        Example:
            >>> # registry.get("model-registry/churn:production").unlink()
        """
        if not self.is_link:
            raise InvalidRefError(
                f"{self.ref} is not a registry member, so there is nothing to unlink: unlink() "
                "removes a member made by link(); use delete() to delete a logged version"
            )
        self.delete(delete_aliases=True)
