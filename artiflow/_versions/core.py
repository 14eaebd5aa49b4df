"""What every part of :class:`~artiflow.ArtifactVersion` shares: its registry context, the
catalog record it was loaded from, and the read-only identity read off that record.

The parts (:mod:`.labels`, :mod:`.lineage`, :mod:`.reading`, :mod:`.compat`) each subclass
:class:`VersionCore`; :class:`~artiflow.ArtifactVersion` is all of them together.

Example:
    >>> from artiflow.version import ArtifactVersion
    >>> issubclass(ArtifactVersion, VersionCore)
    True
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..manifest import Manifest
from ..semver import SemVer

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..catalog import VersionRow
    from ..config import Settings
    from ..version import ArtifactVersion

__all__ = ["VersionCore"]


class VersionCore:
    """The identity of a logged version (see the module docstring)."""

    _ctx: RegistryContext
    _row: VersionRow
    _manifest: Manifest | None
    description: str | None
    metadata: dict[str, Any]
    tags: list[str]
    aliases: list[str]
    local_path: Path | None

    @property
    def _as_version(self) -> ArtifactVersion:
        """This object as the :class:`~artiflow.ArtifactVersion` it is (the parts are only ever
        combined there), for the verbs of :mod:`artiflow._ops` typed on the whole class."""
        return cast("ArtifactVersion", self)

    @property
    def settings(self) -> Settings:
        """The settings of the registry this version belongs to (its store URL and storage
        options reach the references of its entries)."""
        return self._ctx.settings

    @property
    def record(self) -> VersionRow:
        """The catalog record this object was loaded from (frozen; edits are not in it)."""
        return self._row

    @property
    def id(self) -> int:
        """Database id (stable within one registry)."""
        return self._row.id

    @property
    def project(self) -> str:
        return self._row.project

    @property
    def collection_name(self) -> str:
        """The collection (artifact) name without its project: ``"bike-dataset"`` (W&B's
        ``artifact.collection.name``; :attr:`full_name` has the project)."""
        return self._row.name

    @property
    def full_name(self) -> str:
        """``"project/name"``: the collection with its project, what ``Ref.full_name`` is."""
        return f"{self._row.project}/{self._row.name}"

    #: the older spellings of :attr:`collection_name` (kept working)
    collection = collection_name
    name = collection_name

    @property
    def type(self) -> str:
        return self._row.type

    @property
    def index(self) -> int:
        assert self._row.index is not None
        return self._row.index

    @property
    def version(self) -> str:
        """``"v3"``."""
        return self._row.version

    @property
    def ref(self) -> str:
        """``"project/name:v3"``."""
        return self._row.ref

    @property
    def qualified_name(self) -> str:
        """``"project/name"`` (same as :attr:`full_name`)."""
        return f"{self.project}/{self.collection}"

    @property
    def digest(self) -> str:
        assert self._row.digest is not None
        return self._row.digest

    @property
    def size(self) -> int:
        return self._row.size

    @property
    def file_count(self) -> int:
        return self._row.file_count

    @property
    def state(self) -> str:
        return self._row.state

    @property
    def created_at(self) -> dt.datetime:
        return self._row.committed_at or self._row.created_at

    @property
    def is_link(self) -> bool:
        """True for a member of a registry collection (it links a version elsewhere)."""
        return self._row.target_id is not None

    @property
    def linked_version(self) -> ArtifactVersion | None:
        """For a registry member, the version it links; else None."""
        if self._row.target_id is None:
            return None
        return self._ctx.version(self._ctx.catalog.version_by_id(self._row.target_id))

    @property
    def semver(self) -> SemVer | None:
        return SemVer.parse(self._row.semver) if self._row.semver else None

    @property
    def manifest(self) -> Manifest:
        """The entries of this version (loaded on first use)."""
        if self._manifest is None:
            self._manifest = Manifest(self._ctx.catalog.entries(self._row.id, bind=self))
        return self._manifest
