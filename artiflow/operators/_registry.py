"""The registry an Airflow task talks to, created lazily in the task process.

Nothing here runs at DAG parse time: a task asks for its registry when it executes. Which
registry, in order of precedence:

1. the ``artiflow_conn_id=`` of the task, operator, sensor or trigger;
2. else ``$ARTIFLOW_CONN_ID`` (the process-wide connection id artiflow always read), else
   the ``[artiflow] conn_id`` option of Airflow's configuration;
3. else the connection ``artiflow_default`` when it exists;
4. else the ``ARTIFLOW_*`` environment (see :mod:`artiflow.config`), as ``Registry()``.

A connection of type ``artiflow`` (:class:`~artiflow.operators.hooks.ArtiflowHook`) keeps the
metadata database URL, the store URL and the storage options (JSON) in its extra (the form
fields), so database passwords stay in Airflow's secrets backend. A ``postgres`` connection
still works: host/port/login/password/schema give the metadata database
(``postgresql+psycopg://...``). Any type: the extra may hold ``db_url``, ``store_url``,
``home``, ``link_type``, ``default_project`` and ``storage_options`` (extra wins over the
fields; the form's ``extra__artiflow__<field>`` spelling is read too).

The registry identity (asset URIs, OpenLineage namespaces) is computed at parse time without
reading any connection: ``$ARTIFLOW_REGISTRY_NAME`` when set, else ``conn-<conn id>`` for a
connection named explicitly (or by ``$ARTIFLOW_CONN_ID``), else derived from the environment's
database URL (:func:`registry_identity`).

One instance is kept per distinct connection and configuration in the process, so repeated
tasks in one worker (``dag.test()``, the LocalExecutor) share one engine, and two connections
never share one.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from artiflow._tasking.registries import cached_registry, env_key
from artiflow.exceptions import InvalidFieldError

if TYPE_CHECKING:
    from artiflow import Registry

__all__ = [
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "airflow_option",
    "default_project",
    "get_registry",
    "registry_identity",
    "registry_kwargs_from_connection",
    "resolve_conn_id",
]

log = logging.getLogger(__name__)

#: the Airflow connection type of an artiflow registry (:class:`~.hooks.ArtiflowHook`)
CONN_TYPE = "artiflow"
#: the connection used when a task names none and ``$ARTIFLOW_CONN_ID`` is unset
DEFAULT_CONN_ID = "artiflow_default"

_REGISTRY_ARGS = (
    "db_url",
    "store_url",
    "home",
    "link_type",
    "default_project",
    "storage_options",
)


def _in_execution_context() -> bool:
    """A task, DAG-parsing or triggerer process (the Task SDK talks to its supervisor): the
    test Airflow's core ``Connection.get_connection_from_secrets`` makes to ask the Task SDK."""
    return hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS")


def _get_connection(conn_id: str) -> Any:
    try:  # task processes and the triggerer (Task SDK)
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception as sdk_error:  # the API server: core models read the secrets backends
        if "NotFound" in type(sdk_error).__name__ and _in_execution_context():
            # there the core models would ask the Task SDK again (the same look-up, the same
            # answer): a missing connection, e.g. the probe of artiflow_default, costs one
            raise
        try:
            from airflow.models.connection import Connection
        except ImportError:  # a worker with the Task SDK only
            raise sdk_error from None
        return Connection.get_connection_from_secrets(conn_id)


def _connection_exists(conn_id: str) -> bool:
    try:
        _get_connection(conn_id)
    except Exception as e:  # AirflowNotFoundException (Task SDK or core), or no Airflow at all
        if "NotFound" not in type(e).__name__ and "isn't defined" not in str(e):
            log.warning(
                "artiflow: cannot look up connection %r (%s: %s); using the ARTIFLOW_* environment",
                conn_id,
                type(e).__name__,
                e,
            )
        return False
    return True


def _extra_value(extra: dict[str, Any], key: str) -> Any:
    value = extra.get(key)
    if value in (None, ""):
        value = extra.get(f"extra__{CONN_TYPE}__{key}")
    return None if value in (None, "") else value


def registry_kwargs_from_connection(conn: Any) -> dict[str, Any]:
    """``Registry(**kwargs)`` arguments from an Airflow connection (see the module docstring).

    Example:
        >>> from types import SimpleNamespace as C
        >>> registry_kwargs_from_connection(C(conn_type="postgres", host="db", port=5432,
        ...     login="u", password="p", schema="reg", extra_dejson={"store_url": "s3://b/x"}))
        {'db_url': 'postgresql+psycopg://u:p@db:5432/reg', 'store_url': 's3://b/x'}
        >>> registry_kwargs_from_connection(C(conn_type="artiflow", host=None, extra_dejson={
        ...     "db_url": "sqlite:////tmp/r.db", "storage_options": '{"anon": true}'}))
        {'db_url': 'sqlite:////tmp/r.db', 'storage_options': {'anon': True}}
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
    for key in _REGISTRY_ARGS:
        value = _extra_value(extra, key)
        if value is not None:
            kwargs[key] = value
    options = kwargs.get("storage_options")
    if isinstance(options, str):
        try:
            kwargs["storage_options"] = json.loads(options)
        except ValueError as e:
            raise InvalidFieldError(
                f"connection {getattr(conn, 'conn_id', '?')!r}: storage options must be a JSON "
                f'object (e.g. {{"anon": true}}), got {options!r:.80}: {e}',
                field="storage_options",
            ) from None
    if "storage_options" in kwargs and not isinstance(kwargs["storage_options"], dict):
        raise InvalidFieldError(
            f"connection {getattr(conn, 'conn_id', '?')!r}: storage options must be a JSON "
            f"object, got {type(kwargs['storage_options']).__name__}",
            field="storage_options",
        )
    return kwargs


def airflow_option(key: str, fallback: str = "") -> str:
    """An option of the ``[artiflow]`` section of Airflow's configuration (declared in
    provider info; ``AIRFLOW__ARTIFLOW__<KEY>`` sets it), or ``fallback``.

    Example:
        >>> airflow_option("no_such_option", "x")
        'x'
    """
    try:
        from airflow.sdk.configuration import conf

        value = conf.get("artiflow", key, fallback=fallback)
    except Exception:  # no Airflow configuration in this process
        return fallback
    return fallback if value in (None, "") else str(value)


def resolve_conn_id(conn_id: str | None = None, *, probe_default: bool = True) -> str | None:
    """The connection id a task uses (see the module docstring for the precedence), or None
    for the ``ARTIFLOW_*`` environment.

    ``probe_default=False`` skips the look-up of ``artiflow_default`` (parse time: no
    connection is read there).

    Example:
        >>> resolve_conn_id("team_registry")
        'team_registry'
    """
    if conn_id:
        return conn_id
    env = os.environ.get("ARTIFLOW_CONN_ID") or airflow_option("conn_id")
    if env:
        return env
    if probe_default and _connection_exists(DEFAULT_CONN_ID):
        return DEFAULT_CONN_ID
    return None


def get_registry(conn_id: str | None = None) -> Registry:
    """Return the process-wide :class:`artiflow.Registry` of a connection.

    ``conn_id`` names an Airflow connection to build it from; without one,
    ``$ARTIFLOW_CONN_ID``, then the ``artiflow_default`` connection if it exists, then the
    ``ARTIFLOW_*`` environment decide (the module docstring has the precedence). One registry
    is cached per connection id and environment.

    Example:
        >>> reg = get_registry()  # doctest: +SKIP
        >>> reg is get_registry()  # doctest: +SKIP
        True
    """
    explicit = conn_id or None
    resolved = resolve_conn_id(explicit)

    def build() -> Registry:
        from artiflow import Registry

        if not resolved:
            return Registry()
        from artiflow.config import Settings

        kwargs = registry_kwargs_from_connection(_get_connection(resolved))
        # the identity is the one the DAG processor computed without reading the connection
        return Registry(
            settings=Settings.resolve(**kwargs, registry_name=registry_identity(explicit))
        )

    return cached_registry(("airflow", resolved, *env_key()), build)


def default_project() -> str:
    """The default project used for refs without one (pure: reads the environment only).

    Example:
        >>> isinstance(default_project(), str)
        True
    """
    from artiflow.config import Settings

    return Settings.resolve().default_project


def registry_identity(conn_id: str | None = None) -> str:
    """The identity of the registry of connection ``conn_id`` (None: the tasks' default), from
    the environment only (no connection read, no database opened: Asset URIs are computed from
    it at DAG parse time).

    ``ARTIFLOW_REGISTRY_NAME`` when set and ``conn_id`` is the default one (None,
    ``artiflow_default`` or ``$ARTIFLOW_CONN_ID``); ``conn-<conn id>`` for any other connection
    named explicitly, or for ``$ARTIFLOW_CONN_ID`` without ``ARTIFLOW_REGISTRY_NAME``; else
    derived from the database URL of the ``ARTIFLOW_*`` environment (see
    :mod:`artiflow.identity`). Set ``ARTIFLOW_REGISTRY_NAME`` to the same value everywhere the
    registry is used (DAG processor, workers, Prefect workers) so every name agrees.

    Example:
        >>> registry_identity("team_registry")
        'conn-team_registry'
    """
    from artiflow.identity import default_identity, identity_for_connection

    env_conn = os.environ.get("ARTIFLOW_CONN_ID") or airflow_option("conn_id") or None
    if conn_id and conn_id not in (DEFAULT_CONN_ID, env_conn):
        return identity_for_connection(conn_id)
    return default_identity(env_conn)
