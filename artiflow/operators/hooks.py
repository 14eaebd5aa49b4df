"""``ArtiflowHook``: the Airflow connection type ``artiflow`` (an artiflow registry).

Pick "Artiflow" in Airflow's Connections form and fill in the metadata database URL, the store
URL and the storage options (a JSON object); "Test" opens the registry read-only (schema
revision, collection count, store reachable). Tasks use the connection ``artiflow_default``
unless they name another with ``artiflow_conn_id=``; see :mod:`artiflow.operators._registry`
for the precedence with ``$ARTIFLOW_CONN_ID`` and the ``ARTIFLOW_*`` environment.

Example:
    >>> hook = ArtiflowHook(artiflow_conn_id="artiflow_default")  # doctest: +SKIP
    >>> hook.get_conn().get("bike-dataset:production").ref  # doctest: +SKIP
    'default/bike-dataset:v3'
    >>> ArtiflowHook.conn_type, ArtiflowHook.default_conn_name
    ('artiflow', 'artiflow_default')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from ._registry import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    get_registry,
    registry_identity,
    registry_kwargs_from_connection,
)

if TYPE_CHECKING:
    from artiflow import Registry

__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "ArtiflowHook"]

#: the connection form's extra fields (also declared as ``conn-fields`` in provider info)
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "db_url": {
        "label": "Metadata database URL",
        "description": "SQLAlchemy URL of the registry catalog, e.g. "
        "postgresql+psycopg://user:pass@host/registry (empty: $ARTIFLOW_DB_URL)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "store_url": {
        "label": "Store URL",
        "description": "Where blobs live: a folder or an fsspec URL such as s3://bucket/artiflow "
        "(empty: $ARTIFLOW_STORE_URL)",
        "schema": {"type": ["string", "null"]},
    },
    "storage_options": {
        "label": "Storage options (JSON)",
        "description": 'fsspec options of the store as a JSON object, e.g. {"anon": false}',
        "schema": {"type": ["string", "null"]},
    },
    "default_project": {
        "label": "Default project",
        "description": "Project of refs without one (empty: $ARTIFLOW_PROJECT or 'default')",
        "schema": {"type": ["string", "null"]},
    },
}

#: the standard fields the form hides (everything lives in the extra fields above)
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["host", "schema", "login", "password", "port"],
    "relabeling": {},
    "placeholders": {
        "db_url": "postgresql+psycopg://user:pass@db:5432/registry",
        "store_url": "s3://my-bucket/artiflow",
        "storage_options": '{"anon": false}',
        "default_project": "default",
    },
}


class ArtiflowHook(BaseHook):
    """A connection to an artiflow registry; :meth:`get_conn` returns the
    :class:`artiflow.Registry` (one per connection and process).

    Example:
        >>> ArtiflowHook(artiflow_conn_id="team").artiflow_conn_id
        'team'
    """

    conn_name_attr = "artiflow_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Artiflow"

    def __init__(self, artiflow_conn_id: str | None = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.artiflow_conn_id = artiflow_conn_id or DEFAULT_CONN_ID

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form's extra fields as wtforms fields, for Airflow < 3.2 (3.2+ reads the
        declarative ``conn-fields`` of provider info). Needs ``wtforms`` (the FAB UI)."""
        from wtforms import PasswordField, StringField

        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        except ImportError:  # pragma: no cover - wtforms without FAB: default widgets
            BS3PasswordFieldWidget = BS3TextFieldWidget = None
        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            secret = spec["schema"].get("format") == "password"
            field_class = PasswordField if secret else StringField
            widget_class = BS3PasswordFieldWidget if secret else BS3TextFieldWidget
            options = {"widget": widget_class()} if widget_class is not None else {}
            widgets[name] = field_class(spec["label"], description=spec["description"], **options)
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden standard fields and placeholders (Airflow < 3.2; later: provider info)."""
        return {
            k: (list(v) if isinstance(v, list) else dict(v)) for k, v in UI_FIELD_BEHAVIOUR.items()
        }

    def registry_kwargs(self) -> dict[str, Any]:
        """``Registry(**kwargs)`` arguments from the connection (nothing opened)."""
        return registry_kwargs_from_connection(self.get_connection(self.artiflow_conn_id))

    def get_conn(self) -> Registry:
        """The registry of this connection (cached per connection in the process)."""
        return get_registry(self.artiflow_conn_id)

    def test_connection(self) -> tuple[bool, str]:
        """Open the registry read-only and report: the schema revision, how many collections,
        whether the store answers. Nothing is created or migrated.

        Example:
            >>> ArtiflowHook("artiflow_default").test_connection()  # doctest: +SKIP
            (True, 'artiflow registry conn-artiflow_default: schema 0004, 3 collections, ...')
        """
        try:
            from artiflow.config import Settings

            kwargs = self.registry_kwargs()
            settings = Settings.resolve(**kwargs)
            return True, _probe(settings, registry_identity(self.artiflow_conn_id))
        except Exception as e:
            return False, f"{type(e).__name__}: {e}"


def _probe(settings: Any, identity: str) -> str:
    """Read-only checks of a registry's catalog and store; raises when one fails."""
    from sqlalchemy import create_engine, func, inspect, select, table
    from sqlalchemy.engine import make_url

    from artiflow.catalog.migrate import current_revision, head_revision

    db = make_url(settings.db_url)
    if db.get_backend_name() == "sqlite" and db.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(db.database).exists():
            raise FileNotFoundError(f"no registry database at {db.database}")
        db = db.set(query={**db.query, "mode": "ro"}, database=f"file:{db.database}")
        db = db.update_query_dict({"uri": "true"})
    engine = create_engine(db)
    try:
        if "collections" not in inspect(engine).get_table_names():
            raise LookupError(
                f"{make_url(settings.db_url).render_as_string(hide_password=True)} has no "
                "artiflow catalog: run `artiflow db upgrade` (or log a first version)"
            )
        revision = current_revision(engine)
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(table("collections"))).scalar()
    finally:
        engine.dispose()
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(settings.store_url, **dict(settings.storage_options or {}))
    store = "reachable" if fs.exists(root) else "empty (nothing stored yet)"
    behind = "" if revision == head_revision() else f" (this artiflow expects {head_revision()})"
    return (
        f"artiflow registry {identity}: schema {revision}{behind}, {count} collections, "
        f"store {settings.store_url} {store}"
    )
