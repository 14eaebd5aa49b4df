"""The identity of a registry, and every external name derived from it (one place).

Every registry has a stable identity: the configured name (``ARTIFLOW_REGISTRY_NAME``,
``Settings.resolve(registry_name=...)``), or, by default, one derived from its database URL
without credentials (backend, host, port and database; for SQLite the normalised file path): a
readable part and a short hash of the location, e.g. ``artiflow-registry-3595817a`` for
``/home/me/.artiflow/registry.db``.
Computing it never opens the database (it is computed when Airflow parses a DAG).

Every name another system sees derives from it here, one scheme for a collection,
``artiflow://<registry>/<project>/<name>``:

* Airflow Assets: ``x-artiflow://<registry>/<project>/<name>`` and ``.../alias/<alias>``
  (the ``x-`` scheme keeps Airflow from normalising it);
* Prefect event resources and Prefect asset keys: ``artiflow://<registry>/<project>/<name>``,
  with the resource label ``artiflow.registry`` = the identity;
* OpenLineage datasets: namespace ``artiflow://<registry>/<project>``, name ``<name>``.

Two registries therefore never share a name, and an automation or DAG scheduled on one
registry's collection is never started by another registry's event.

Example:
    >>> identity_from_url("postgresql+psycopg://user:secret@DB.example.com/reg")
    'db.example.com-reg-a58af546'
    >>> collection_uri("prod", "default", "bike-dataset")
    'artiflow://prod/default/bike-dataset'
    >>> airflow_asset_uri("prod", "default", "bike-model", alias="production")
    'x-artiflow://prod/default/bike-model/alias/production'
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from .exceptions import InvalidRefError

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "AIRFLOW_SCHEME",
    "REGISTRY_LABEL",
    "SCHEME",
    "AssetName",
    "airflow_asset_uri",
    "collection_uri",
    "default_identity",
    "identity_for_connection",
    "identity_from_url",
    "openlineage_dataset",
    "parse_airflow_asset_uri",
    "registry_identity",
    "validate_registry_name",
]

SCHEME = "artiflow"
AIRFLOW_SCHEME = "x-artiflow"
#: the Prefect resource label that carries the registry identity
REGISTRY_LABEL = "artiflow.registry"

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}


def validate_registry_name(name: Any) -> str:
    """Check a configured registry name: 1-63 of ``a-z 0-9 . _ -``, starting with a letter or
    digit (it becomes part of URIs, asset keys and event resources).

    Example:
        >>> validate_registry_name("prod-eu")
        'prod-eu'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRefError(
            f"invalid registry name {name!r}: use 1-63 lowercase letters, digits, '.', '_' or "
            "'-', starting with a letter or digit (e.g. ARTIFLOW_REGISTRY_NAME=prod-eu)"
        )
    return name


def _slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")
    return slug[:40].rstrip("-.") or fallback


def identity_from_url(db_url: str) -> str:
    """The default identity of a registry with this database URL (no credentials, no I/O).

    Example:
        >>> identity_from_url("sqlite:////home/me/.artiflow/registry.db")
        'artiflow-registry-3595817a'
        >>> identity_from_url("postgresql://u:p@db:5432/reg") == identity_from_url(
        ...     "postgresql+psycopg://other:pw@DB/reg")
        True
    """
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        db = url.database
        if not db or db == ":memory:" or "mode=memory" in db:
            locator, readable = "sqlite://:memory:", "sqlite-memory"
        else:
            path = os.path.normpath(os.path.abspath(os.path.expanduser(db)))
            locator = f"sqlite://{path}"
            parent = os.path.basename(os.path.dirname(path))
            readable = f"{parent}-{os.path.splitext(os.path.basename(path))[0]}"
    else:
        host = (url.host or "localhost").lower()
        port = url.port or _DEFAULT_PORTS.get(backend)
        database = url.database or ""
        locator = f"{backend}://{host}:{port}/{database}"
        readable = f"{host}-{database}" if database else host
    digest = hashlib.sha256(locator.encode()).hexdigest()[:8]
    return f"{_slug(readable, backend)}-{digest}"


def identity_for_connection(conn_id: str) -> str:
    """The default identity of a registry configured by an orchestrator connection id (the
    connection itself is not read: that would need the orchestrator's metadata at parse time).

    Example:
        >>> identity_for_connection("artiflow_registry")
        'conn-artiflow_registry'
    """
    slug = re.sub(r"[^a-z0-9._-]+", "-", conn_id.lower()).strip("-.")[:50] or "default"
    return validate_registry_name(f"conn-{slug}")


def registry_identity(source: Any = None) -> str:
    """The identity of a registry: ``source`` is a :class:`~artiflow.Registry`, a
    :class:`~artiflow.config.Settings`, an identity string, or None (the ``ARTIFLOW_*``
    environment, as ``Registry()`` would read it). Never opens the database.

    Example:
        >>> import tempfile
        >>> from artiflow import Registry
        >>> registry_identity("prod")
        'prod'
        >>> registry_identity(Registry(home=tempfile.mkdtemp())).count("-") >= 1
        True
    """
    if source is None:
        return default_identity()
    if isinstance(source, str):
        return validate_registry_name(source)
    settings: Settings | None = getattr(source, "settings", None)
    if settings is None and hasattr(source, "db_url"):
        settings = source
    if settings is None:
        raise TypeError(f"cannot tell the registry identity of {source!r}")
    name = getattr(settings, "registry_name", None)
    return validate_registry_name(name) if name else identity_from_url(settings.db_url)


def default_identity(conn_id: str | None = None) -> str:
    """The identity of the registry the environment configures: ``ARTIFLOW_REGISTRY_NAME``,
    else (with ``conn_id``) :func:`identity_for_connection`, else derived from the database URL
    ``Registry()`` would use.

    Example:
        >>> default_identity() == registry_identity(None)
        True
    """
    name = os.environ.get("ARTIFLOW_REGISTRY_NAME")
    if name:
        return validate_registry_name(name)
    if conn_id:
        return identity_for_connection(conn_id)
    from .config import Settings

    return identity_from_url(Settings.resolve().db_url)


def collection_uri(registry: str, project: str, name: str) -> str:
    """``artiflow://<registry>/<project>/<name>``: a collection's name outside the registry
    (Prefect event resource ids and asset keys).

    Example:
        >>> collection_uri("r", "team", "ds")
        'artiflow://r/team/ds'
    """
    return f"{SCHEME}://{registry}/{project}/{name}"


def airflow_asset_uri(registry: str, project: str, name: str, alias: str | None = None) -> str:
    """The Airflow Asset URI of a collection, or of one of its aliases.

    Example:
        >>> airflow_asset_uri("r", "default", "ds")
        'x-artiflow://r/default/ds'
    """
    uri = f"{AIRFLOW_SCHEME}://{registry}/{project}/{name}"
    return f"{uri}/alias/{alias}" if alias is not None else uri


class AssetName(NamedTuple):
    """The parts of an artiflow Airflow Asset URI (``registry`` is None for the URIs of
    artiflow < 0.2, ``x-artiflow://<project>/<name>``)."""

    registry: str | None
    project: str
    name: str
    alias: str | None


def parse_airflow_asset_uri(uri: str) -> AssetName | None:
    """The parts of an artiflow Airflow Asset URI, or None for any other URI.

    Example:
        >>> parse_airflow_asset_uri("x-artiflow://r/default/model/alias/production")
        AssetName(registry='r', project='default', name='model', alias='production')
        >>> parse_airflow_asset_uri("x-artiflow://default/model").registry is None
        True
    """
    prefix = f"{AIRFLOW_SCHEME}://"
    if not isinstance(uri, str) or not uri.startswith(prefix):
        return None
    parts = uri[len(prefix) :].split("/")
    if len(parts) == 3:
        return AssetName(parts[0], parts[1], parts[2], None)
    if len(parts) == 5 and parts[3] == "alias":
        return AssetName(parts[0], parts[1], parts[2], parts[4])
    if len(parts) == 2:  # legacy: no registry
        return AssetName(None, parts[0], parts[1], None)
    if len(parts) == 4 and parts[2] == "alias":
        return AssetName(None, parts[0], parts[1], parts[3])
    return None


def openlineage_dataset(registry: str, project: str, name: str) -> tuple[str, str]:
    """``(namespace, name)`` of a collection as an OpenLineage dataset.

    Example:
        >>> openlineage_dataset("r", "default", "ds")
        ('artiflow://r/default', 'ds')
    """
    return f"{SCHEME}://{registry}/{project}", name
