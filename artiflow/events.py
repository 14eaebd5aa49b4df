"""Registry events: what integrations turn into Airflow asset events or Prefect events.

Example:
    >>> e = RegistryEvent("version.created", "default", "ds", "default/ds:v0", "v0", 0, "ab", ["latest"])
    >>> e.resource
    'artiflow.artifact.default.ds'
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import VersionRow
    from .catalog.catalog import AliasMove

__all__ = ["ALIAS_MOVED", "VERSION_CREATED", "EventBus", "RegistryEvent", "events_of"]

log = logging.getLogger(__name__)

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


def events_of(
    row: VersionRow, created: bool, moves: Sequence[AliasMove], run_id: str | None
) -> list[RegistryEvent]:
    """The events one commit of ``row`` makes: ``version.created`` when it is new, one
    ``alias.moved`` per user alias move (``latest`` is managed by artiflow and never announced).
    """
    events = []
    if created:
        events.append(
            RegistryEvent(
                VERSION_CREATED,
                row.project,
                row.name,
                row.ref,
                row.version,
                row.index,
                row.digest,
                list(row.aliases),
                run_id=run_id,
            )
        )
    for m in moves:
        if m.alias == "latest":
            continue
        version = f"v{m.version_index}" if m.version_index is not None else None
        mine = version == row.version
        events.append(
            RegistryEvent(
                ALIAS_MOVED,
                m.project,
                m.name,
                f"{m.project}/{m.name}:{version}" if version else None,
                version,
                m.version_index,
                row.digest if mine else None,
                list(row.aliases) if mine else [],
                alias=m.alias,
                previous=f"v{m.previous_index}" if m.previous_index is not None else None,
                run_id=run_id,
            )
        )
    return events


class EventBus:
    """Subscribers of one registry; :meth:`publish` calls each with every event of a commit.

    Example:
        >>> bus = EventBus()
        >>> seen = []
        >>> stop = bus.subscribe(seen.append)
        >>> bus.send([RegistryEvent("version.created", "p", "n", "p/n:v0", "v0", 0, "ab")])
        >>> stop(); len(seen)
        1
    """

    def __init__(self) -> None:
        self._subscribers: list[Callable[[RegistryEvent], object]] = []

    def subscribe(self, callback: Callable[[RegistryEvent], object]) -> Callable[[], None]:
        """Add ``callback``; returns the function that removes it again."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(
        self, row: VersionRow, created: bool, moves: Sequence[AliasMove], run_id: str | None
    ) -> None:
        """Announce one committed version (see :func:`events_of`); nothing to do without
        subscribers."""
        if self._subscribers:
            self.send(events_of(row, created, moves, run_id))

    def send(self, events: Sequence[RegistryEvent]) -> None:
        """Call every subscriber with each event; a failing subscriber is logged, never raised
        (it must not undo a commit)."""
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:
                    log.exception(
                        "artiflow: event subscriber %r failed on %s", callback, event.kind
                    )
