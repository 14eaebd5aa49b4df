"""The W&B spellings on a draft: ``is_draft``, ``entity``, ``wait``, ``get_entry``.

Example:
    >>> from artiflow import Artifact
    >>> Artifact("x").is_draft()
    True
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ArtifactNotFoundError
from .core import DraftCore
from .sources import Source

__all__ = ["DraftCompat"]


class DraftCompat(DraftCore):
    """W&B's names on a draft (a part of :class:`~artiflow.Artifact`)."""

    def is_draft(self) -> bool:
        """True until the draft is logged (W&B's ``is_draft()``).

        Example:
            >>> Artifact("x").is_draft()
            True
        """
        return self._logged is None

    @property
    def entity(self) -> str | None:
        """The project (W&B's ``entity``); None until logged when no project was given."""
        if self._logged is not None and hasattr(self._logged, "project"):
            return str(self._logged.project)
        return self.project

    def wait(self, timeout: float | None = None) -> Any:
        """The version this draft became (W&B's ``wait()``: logging here is synchronous, so
        there is nothing to wait for). Raises :class:`ArtifactNotFoundError` before the log.

        Example:
            >>> # registry.log(draft); draft.wait().version
        """
        if self._logged is None:
            raise ArtifactNotFoundError(
                f"draft {self.qualified_name!r} is not logged yet: call registry.log(draft) "
                "first (it returns the version; there is nothing to wait for)"
            )
        return self._logged

    def get_entry(self, name: str) -> Source:
        """What the draft holds at entry ``name`` (a local file, a reference or a carried
        entry); :class:`ArtifactNotFoundError` when absent.

        Example:
            >>> Artifact("x").get_entry("a.csv")
            Traceback (most recent call last):
            ...
            artiflow.exceptions.ArtifactNotFoundError: the draft of 'x' has no entry 'a.csv'; it has 0 entries (see draft.paths())
        """
        source = self._sources.get(name)
        if source is None:
            raise ArtifactNotFoundError(
                f"the draft of {self.qualified_name!r} has no entry {name!r}; it has "
                f"{len(self._sources)} entries (see draft.paths())"
            )
        return source

    get = get_entry

    __getitem__ = get_entry
