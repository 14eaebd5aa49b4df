"""Event publishers of installed plugins: the ``artiflow.event_publishers`` entry points.

An integration (e.g. ``artiflow.prefect``) publishes registry events to its system without the
core importing it: it declares an entry point in the group ``artiflow.event_publishers`` whose
object is a factory ``factory(registry) -> callback | None``. Every :class:`~artiflow.Registry`
calls each factory once when it is created; a returned callback is subscribed to the registry's
events (:meth:`~artiflow.Registry.subscribe`), None means "not configured here". Factories
must be cheap: import nothing heavy until an event is published.

Entry points are read once per process; the same object declared twice (e.g. by an editable
install and a test's extra metadata) is used once. A factory that fails to load or raises is
logged and skipped: publishing never breaks the registry.

Example:
    >>> from artiflow._publishers import GROUP, publisher_factories
    >>> GROUP
    'artiflow.event_publishers'
    >>> isinstance(publisher_factories(), list)
    True
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["GROUP", "attach_publishers", "publisher_factories"]

GROUP = "artiflow.event_publishers"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_factories: list[Callable[[Any], Any]] | None = None


def publisher_factories() -> list[Callable[[Any], Any]]:
    """The factories of the installed ``artiflow.event_publishers`` entry points (cached)."""
    global _factories
    with _lock:
        if _factories is None:
            from importlib.metadata import entry_points

            found: list[Callable[[Any], Any]] = []
            seen: set[str] = set()
            for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
                if ep.value in seen:
                    continue
                seen.add(ep.value)
                try:
                    found.append(ep.load())
                except Exception:  # a broken plugin must not break the registry
                    log.warning("artiflow: cannot load event publisher %s", ep.value, exc_info=True)
            _factories = found
        return list(_factories)


def attach_publishers(registry: Any) -> None:
    """Subscribe the callbacks the installed publishers return for ``registry``.

    Example:
        >>> import tempfile
        >>> from artiflow import Registry
        >>> attach_publishers(Registry(home=tempfile.mkdtemp()))   # what Registry() does
    """
    for factory in publisher_factories():
        try:
            callback = factory(registry)
        except Exception:
            log.warning("artiflow: event publisher %r failed", factory, exc_info=True)
            continue
        if callback is not None:
            registry.subscribe(callback)
