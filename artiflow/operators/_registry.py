"""The registry an Airflow task talks to, created lazily in the task process.

Nothing here runs at DAG parse time: a task asks for its registry when it executes. The registry
is built from the ``ARTIFLOW_*`` environment (see :mod:`artiflow.config`), or, when
``ARTIFLOW_CONN_ID`` names an Airflow connection, from that connection (so database passwords
stay in Airflow's secrets backend):

* ``conn_type`` ``postgres`` (or ``postgresql``): host/port/login/password/schema give the
  metadata database (``postgresql+psycopg://...``);
* any type: the connection's extra may hold ``db_url``, ``store_url``, ``home``,
  ``link_type`` and ``storage_options`` (extra wins over the fields). The default project
  stays ``$ARTIFLOW_PROJECT`` and the registry identity ``$ARTIFLOW_REGISTRY_NAME`` (else
  ``conn-<conn id>``): asset URIs are computed from them at parse time.

One instance is kept per distinct configuration in the process, so repeated tasks in one worker
(``dag.test()``, the LocalExecutor) share one engine.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from artiflow._tasking.registries import cached_registry, env_key

if TYPE_CHECKING:
    from artiflow import Registry

__all__ = [
    "default_project",
    "get_registry",
    "registry_identity",
    "registry_kwargs_from_connection",
]

_REGISTRY_ARGS = ("db_url", "store_url", "home", "link_type", "storage_options")


def _get_connection(conn_id: str) -> Any:
    try:  # task processes and the triggerer (Task SDK)
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:  # the API server: core models read the secrets backends / metadata DB
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)


def registry_kwargs_from_connection(conn: Any) -> dict[str, Any]:
    """``Registry(**kwargs)`` arguments from an Airflow connection (see the module docstring).

    Example:
        >>> from types import SimpleNamespace as C
        >>> registry_kwargs_from_connection(C(conn_type="postgres", host="db", port=5432,
        ...     login="u", password="p", schema="reg", extra_dejson={"store_url": "s3://b/x"}))
        {'db_url': 'postgresql+psycopg://u:p@db:5432/reg', 'store_url': 's3://b/x'}
    """
    kwargs: dict[str, Any] = {}
    if (conn.conn_type or "").lower() in ("postgres", "postgresql") and conn.host:
        from urllib.parse import quote

        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        kwargs["db_url"] = f"postgresql+psycopg://{auth}{conn.host}{port}/{conn.schema or ''}"
    extra = dict(getattr(conn, "extra_dejson", None) or {})
    kwargs.update({k: extra[k] for k in _REGISTRY_ARGS if extra.get(k) is not None})
    return kwargs


def get_registry(conn_id: str | None = None) -> Registry:
    """Return the process-wide :class:`artiflow.Registry` for the current configuration.

    ``conn_id`` (default: ``$ARTIFLOW_CONN_ID``) names an Airflow connection to build it from;
    without one, the ``ARTIFLOW_*`` environment decides, as for ``Registry()``.

    Example:
        >>> reg = get_registry()  # doctest: +SKIP
        >>> reg is get_registry()  # doctest: +SKIP
        True
    """
    conn_id = conn_id or os.environ.get("ARTIFLOW_CONN_ID") or None

    def build() -> Registry:
        from artiflow import Registry

        if not conn_id:
            return Registry()
        from artiflow.config import Settings

        kwargs = registry_kwargs_from_connection(_get_connection(conn_id))
        # the identity is the one the DAG processor computed without reading the connection
        return Registry(settings=Settings.resolve(**kwargs, registry_name=registry_identity()))

    return cached_registry(("airflow", conn_id, *env_key()), build)


def default_project() -> str:
    """The default project used for refs without one (pure: reads the environment only).

    Example:
        >>> isinstance(default_project(), str)
        True
    """
    from artiflow.config import Settings

    return Settings.resolve().default_project


def registry_identity() -> str:
    """The identity of the Airflow tasks' registry, from the environment only (no connection
    read, no database opened: Asset URIs are computed from it at DAG parse time).

    ``ARTIFLOW_REGISTRY_NAME`` when set; else, with ``ARTIFLOW_CONN_ID``, ``conn-<conn id>``;
    else derived from the database URL of the ``ARTIFLOW_*`` environment (see
    :mod:`artiflow.identity`). Set ``ARTIFLOW_REGISTRY_NAME`` to the same value everywhere the
    registry is used (DAG processor, workers, Prefect workers) so every name agrees.

    Example:
        >>> isinstance(registry_identity(), str)
        True
    """
    from artiflow.identity import default_identity

    return default_identity(os.environ.get("ARTIFLOW_CONN_ID") or None)
