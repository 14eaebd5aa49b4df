"""The per-process registry of artifact tasks: built lazily in the task process, once per
configuration, and shared by every task that runs in that process.

Nothing here runs at import or at DAG parse time. The cache key is the ``ARTIFLOW_*``
environment (plus whatever the integration adds, e.g. an Airflow connection id), so a test or a
worker that changes the environment gets a registry of its own.

Example:
    >>> import tempfile
    >>> from artiflow import Registry
    >>> home = tempfile.mkdtemp()
    >>> a = cached_registry(("doc", home), lambda: Registry(home=home))
    >>> a is cached_registry(("doc", home), lambda: Registry(home=home))
    True
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from artiflow import Registry

__all__ = ["ENV_KEYS", "cached_registry", "default_registry", "env_key"]

#: environment variables that decide which registry ``Registry()`` opens
ENV_KEYS = (
    "ARTIFLOW_HOME",
    "ARTIFLOW_DB_URL",
    "ARTIFLOW_STORE_URL",
    "ARTIFLOW_PROJECT",
    "ARTIFLOW_REGISTRY_NAME",
)

_lock = threading.Lock()
_registries: dict[Hashable, Registry] = {}


def env_key() -> tuple[str | None, ...]:
    """The values of :data:`ENV_KEYS` now (part of every cache key).

    Example:
        >>> len(env_key()) == len(ENV_KEYS)
        True
    """
    return tuple(os.environ.get(k) for k in ENV_KEYS)


def cached_registry(key: Hashable, build: Callable[[], Registry]) -> Registry:
    """The registry cached under ``key``, built by ``build()`` the first time (thread-safe)."""
    with _lock:
        reg = _registries.get(key)
        if reg is None:
            reg = _registries[key] = build()
        return reg


def default_registry() -> Registry:
    """``Registry()`` from the ``ARTIFLOW_*`` environment, once per configuration.

    Example:
        >>> default_registry() is default_registry()  # doctest: +SKIP
        True
    """
    from artiflow import Registry

    return cached_registry(("env", *env_key()), Registry)
