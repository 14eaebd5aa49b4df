"""Registry events: what integrations turn into Airflow asset events or Prefect events.

Example:
    >>> e = RegistryEvent("version.created", "default", "ds", "default/ds:v0", "v0", 0, "ab", ["latest"])
    >>> e.resource
    'artiflow.artifact.default.ds'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ALIAS_MOVED", "VERSION_CREATED", "RegistryEvent"]

VERSION_CREATED = "version.created"
ALIAS_MOVED = "alias.moved"


@dataclass(frozen=True)
class RegistryEvent:
    """A new version (``version.created``) or an alias put on a version (``alias.moved``).

    For alias moves, ``alias`` is the alias and ``previous`` the version that held it before
    (None when it is new); ``version`` is None when the alias was removed.
    """

    kind: str
    project: str
    name: str
    ref: str | None
    version: str | None
    index: int | None
    digest: str | None
    aliases: list[str] = field(default_factory=list)
    alias: str | None = None
    previous: str | None = None
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # seam: quarantine root/reason/affected

    @property
    def resource(self) -> str:
        """The Prefect-style resource id of the collection."""
        return f"artiflow.artifact.{self.project}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (event payloads)."""
        return asdict(self)
