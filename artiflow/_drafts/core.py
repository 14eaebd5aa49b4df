"""What every part of :class:`~artiflow.Artifact` shares: the entries of the draft, their
own metadata, and whether the draft is still open.

The parts (:mod:`.adding`, :mod:`.compat`) subclass :class:`DraftCore`;
:class:`~artiflow.Artifact` is both together.

Example:
    >>> from artiflow import Artifact
    >>> issubclass(Artifact, DraftCore)
    True
"""

from __future__ import annotations

import tempfile
from typing import Any

from ..exceptions import ArtifactFinalizedError
from .sources import Source

__all__ = ["DraftCore"]


class DraftCore:
    """The state of a draft (see the module docstring)."""

    project: str | None
    name: str
    _sources: dict[str, Source]
    _dirs: set[str]  # every folder that holds an entry (file/folder conflicts)
    _folded: dict[str, str] | None
    _tmpdir: tempfile.TemporaryDirectory[str] | None
    _logged: Any  # the ArtifactVersion once logged
    _assets: dict[str, tuple[dict[str, Any], str | None]]

    @property
    def qualified_name(self) -> str:
        """``project/name`` when a project was given, else the name."""
        return f"{self.project}/{self.name}" if self.project else self.name

    def _check_open(self) -> None:
        if self._logged is not None:
            raise ArtifactFinalizedError(
                f"draft {self.qualified_name!r} was already logged as {self._logged.ref}; start a new "
                "draft (or version.new_draft()) to change it"
            )

    def paths(self) -> list[str]:
        """The entry paths of the draft."""
        return list(self._sources)

    def sources(self) -> dict[str, Source]:
        """Entry path -> what will be stored (used by the registry)."""
        return dict(self._sources)
