"""Where a logged version came from and what became of it: the runs that logged and used it,
its checks, its quarantine and the quarantine it is tainted by.

Example:
    >>> from artiflow.version import ArtifactVersion
    >>> ArtifactVersion.used_by is VersionLineage.used_by
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._ops import policy as _policy
from .._ops import quarantine as _quarantine
from .core import VersionCore

if TYPE_CHECKING:
    from ..runs import Run

__all__ = ["VersionLineage"]


class VersionLineage(VersionCore):
    """Runs, checks and quarantines (a part of :class:`~artiflow.ArtifactVersion`)."""

    @property
    def quarantined(self) -> _quarantine.Quarantine | None:
        """The active quarantine of this version (who, when, why), or None."""
        return _quarantine.quarantine_of(self._ctx, self._as_version)

    @property
    def tainted_by(self) -> _quarantine.Quarantine | None:
        """The nearest quarantine upstream of this version (it was built from a bad one)."""
        return _quarantine.tainted_by(self._ctx, self._as_version)

    def add_check(self, name: str, passed: bool, details: Any = None) -> _policy.Check:
        """Record a check result on this version (``version.add_check("auc", True, {...})``)."""
        return _policy.add_check(self._ctx, self._as_version, name, passed, details)

    @property
    def checks(self) -> list[_policy.Check]:
        """Every check result recorded on this version, oldest first."""
        return _policy.checks(self._ctx, self._as_version)

    def logged_by(self) -> Run | None:
        """The run that produced this version (the first one, if several logged it: see
        :meth:`logged_by_all`)."""
        runs = self.logged_by_all()
        return runs[0] if runs else None

    def logged_by_all(self) -> list[Run]:
        """Every run that logged this version, oldest first: the one that created it, then
        each run whose log de-duplicated to it (same content as ``latest``).

        Example:
            >>> # [run.label for run in registry.get("ds:v3").logged_by_all()]
        """
        from .._ops.runs import runs_of

        return runs_of(self._ctx, self._row.id, "logged")

    def used_by(self) -> list[Run]:
        """Runs that consumed this version."""
        from .._ops.runs import runs_of

        return runs_of(self._ctx, self._row.id, "used")
