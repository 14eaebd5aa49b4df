"""The states of versions and runs, as ``str`` enums (their values are what the catalog stores).

A member compares equal to its value, so code and data written with the bare strings keep
working: ``VersionState.COMMITTED == "COMMITTED"``.

Example:
    >>> VersionState.COMMITTED == "COMMITTED", RunState("FAILED") is RunState.FAILED
    (True, True)
    >>> RunState.SUCCESS.finished, RunState.RUNNING.finished
    (True, False)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RunState", "VersionState"]


class VersionState(StrEnum):
    """``PENDING`` (being assembled, invisible), ``COMMITTED`` (visible), ``DELETED``."""

    PENDING = "PENDING"
    COMMITTED = "COMMITTED"
    DELETED = "DELETED"

    def __str__(self) -> str:
        return self.value


class RunState(StrEnum):
    """``RUNNING``, then ``SUCCESS``, ``FAILED`` or ``SKIPPED`` (the orchestrator skipped the
    task); ``CACHED`` names a Prefect task run that returned a cached result."""

    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CACHED = "CACHED"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        """True once the run ended (any state but ``RUNNING``)."""
        return self is not RunState.RUNNING
