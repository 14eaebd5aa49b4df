"""``ArtifactVersion``: a logged, immutable version (its editable labels aside).

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> registry = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("bike-dataset")
    >>> with draft.new_file("rows.csv") as f:
    ...     _ = f.write("a,b")
    >>> v = registry.log(draft)
    >>> v.aliases.append("production"); _ = v.save()
    >>> registry.get("bike-dataset:production").version
    'v0'
    >>> (v.download(tempfile.mkdtemp()) / "rows.csv").read_text()
    'a,b'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import serialize
from ._context import RegistryContext, context_of
from ._versions.compat import VersionCompat
from ._versions.labels import VersionLabels
from ._versions.lineage import VersionLineage
from ._versions.reading import VersionReading
from ._versions.spool import SPOOL_LIMIT, spool_limit  # noqa: F401 - importable from here too
from .manifest import Manifest

if TYPE_CHECKING:
    from .artifact import Artifact
    from .catalog import VersionRow
    from .registry import Registry

__all__ = ["ArtifactVersion"]


class ArtifactVersion(VersionLabels, VersionLineage, VersionReading, VersionCompat):
    """A committed version of a collection. Content is immutable; ``description``,
    ``metadata``, ``tags`` and ``aliases`` can be edited and persisted with :meth:`save`.

    ``registry``: the :class:`~artiflow.Registry` (or its context) the version belongs to.

    The class is made of parts, one module each under :mod:`artiflow._versions`: the identity
    read off the catalog record (``core``), editing and saving the labels (``labels``), runs,
    checks and quarantines (``lineage``), entries, ``open``, ``download``, ``checkout`` and
    ``verify`` (``reading``) and the W&B/Comet spellings (``compat``)."""

    def __init__(self, registry: Registry | RegistryContext, row: VersionRow) -> None:
        self._ctx = context_of(registry)
        self._row = row
        self._manifest: Manifest | None = None
        self.description: str | None = None
        self.metadata: dict[str, Any] = {}
        self.tags: list[str] = []
        self.aliases: list[str] = []
        self._refresh(row)
        self.local_path: Path | None = None

    def __repr__(self) -> str:
        return f"<ArtifactVersion {self.ref} aliases={self.aliases} digest={self._row.digest and self._row.digest[:12]}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ArtifactVersion)
            and other._row.id == self._row.id
            and other._ctx is self._ctx
        )

    def __hash__(self) -> int:
        return hash(self._row.id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no entries).

        Example:
            >>> # registry.get("model:v0").to_dict()["ref"]
        """
        linked = self.linked_version if self.is_link else None
        return {
            **serialize.version_fields(self._row),
            "index": self._row.index,
            "size": self.size,
            "file_count": self.file_count,
            "created_at": self.created_at.isoformat(),
            "aliases": list(self.aliases),  # as edited on this object
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "description": self.description,
            "semver": self._row.semver,
            "revision": self.revision,
            "linked": linked.ref if linked is not None else None,
        }

    def new_draft(self) -> Artifact:
        """A draft pre-filled with this version's entries: add/remove, then log a patch.
        Only changed files are hashed and stored.

        Example:
            >>> # draft = registry.get("ds:latest").new_draft(); draft.remove("old.csv")
        """
        from .artifact import patch_draft

        return patch_draft(self)
