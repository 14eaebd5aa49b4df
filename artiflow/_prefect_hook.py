"""The ``artiflow.event_publishers`` entry point of the Prefect integration.

When a Prefect API is configured (``PREFECT_API_URL`` is set) and Prefect is installed, every
:class:`~artiflow.Registry` of the process, e.g. the one behind ``artiflow alias`` or ``artiflow
log``, emits its events as Prefect events (``artiflow.version.created``,
``artiflow.alias.moved``, ...; see :mod:`artiflow.prefect.events`). Nothing is imported from
Prefect until the first event: a CLI call without ``PREFECT_API_URL`` costs nothing.

This module is deliberately outside the ``artiflow.prefect`` package: importing that package
imports Prefect (seconds), which a factory must not do.

Example:
    >>> PrefectPublisher(registry=None)     # what publisher(registry) returns when configured
    PrefectPublisher()
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = ["PrefectPublisher", "publisher"]


class PrefectPublisher:
    """A registry subscriber that emits each event to the configured Prefect API."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def __call__(self, event: Any) -> None:
        from artiflow.prefect.events import publish_event

        publish_event(event, self.registry)

    def __repr__(self) -> str:
        return "PrefectPublisher()"


def publisher(registry: Any) -> PrefectPublisher | None:
    """The ``artiflow.event_publishers`` factory: a :class:`PrefectPublisher` when
    ``PREFECT_API_URL`` is set and Prefect is installed, else None."""
    if not os.environ.get("PREFECT_API_URL"):
        return None
    if importlib.util.find_spec("prefect") is None:
        return None
    return PrefectPublisher(registry)
