"""Airflow provider metadata for artiflow (entry point ``apache_airflow_provider``).

Airflow reads this at configuration time to register ``@task.artiflow``. This module must never
bring in the ``airflow`` package (nor anything that does): Airflow loads it while its own
configuration is being built, so such an import would be circular.

Example:
    >>> from artiflow.provider_info import get_provider_info
    >>> get_provider_info()["task-decorators"][0]["name"]
    'artiflow'
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("artiflow")
    except Exception:  # pragma: no cover - not installed (source checkout on sys.path)
        return "0.0.0"


#: where users read about artiflow's Airflow integration
DOCS_URL = "https://github.com/artiflow/artiflow/blob/main/docs/airflow.md"

_HOOK = "artiflow.operators.hooks.ArtiflowHook"


def _conn_fields() -> dict[str, Any]:
    # kept in step with artiflow.operators.hooks.CONN_FIELDS (a test compares them); this
    # module may not import artiflow.operators (that imports airflow)
    text = {"type": ["string", "null"]}
    return {
        "db_url": {
            "label": "Metadata database URL",
            "description": "SQLAlchemy URL of the registry catalog, e.g. "
            "postgresql+psycopg://user:pass@host/registry (empty: $ARTIFLOW_DB_URL)",
            "schema": {**text, "format": "password"},
        },
        "store_url": {
            "label": "Store URL",
            "description": "Where blobs live: a folder or an fsspec URL such as "
            "s3://bucket/artiflow (empty: $ARTIFLOW_STORE_URL)",
            "schema": dict(text),
        },
        "storage_options": {
            "label": "Storage options (JSON)",
            "description": 'fsspec options of the store as a JSON object, e.g. {"anon": false}',
            "schema": dict(text),
        },
        "default_project": {
            "label": "Default project",
            "description": "Project of refs without one (empty: $ARTIFLOW_PROJECT or 'default')",
            "schema": dict(text),
        },
    }


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow expects from ``apache_airflow_provider``: the
    ``artiflow`` connection type (:class:`artiflow.operators.hooks.ArtiflowHook`, its form
    fields), ``@task.artiflow``, the plugin, the sensor, the triggers, the ``x-artiflow``
    asset URIs (normaliser and OpenLineage converter), the config section and the docs URL.

    Example:
        >>> info = get_provider_info()
        >>> info["package-name"], info["task-decorators"][0]["class-name"]
        ('artiflow', 'artiflow.operators.artifact_task')
        >>> info["connection-types"][0]["connection-type"]
        'artiflow'
    """
    return {
        "package-name": "artiflow",
        "name": "artiflow",
        "description": "Artifact-aware Airflow tasks over the artiflow artifact registry.",
        "versions": [_version()],
        "docs-url": DOCS_URL,
        "integrations": [
            {
                "integration-name": "artiflow",
                "external-doc-url": DOCS_URL,
                "tags": ["software"],
            }
        ],
        "task-decorators": [
            {"name": "artiflow", "class-name": "artiflow.operators.artifact_task"},
        ],
        "hooks": [{"integration-name": "artiflow", "python-modules": ["artiflow.operators.hooks"]}],
        "connection-types": [
            {
                "hook-class-name": _HOOK,
                "hook-name": "Artiflow",
                "connection-type": "artiflow",
                "conn-fields": _conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "login", "password", "port"],
                    "relabeling": {},
                    "placeholders": {
                        "db_url": "postgresql+psycopg://user:pass@db:5432/registry",
                        "store_url": "s3://my-bucket/artiflow",
                        "storage_options": '{"anon": false}',
                        "default_project": "default",
                    },
                },
            }
        ],
        "operators": [
            {
                "integration-name": "artiflow",
                "python-modules": [
                    "artiflow.operators.operators",
                    "artiflow.operators.base",
                    "artiflow.operators.decorator",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "artiflow", "python-modules": ["artiflow.operators.sensors"]}
        ],
        "triggers": [
            {
                "integration-name": "artiflow",
                "python-modules": [
                    "artiflow.operators.sensors",
                    "artiflow.operators.event_trigger",
                ],
            }
        ],
        "plugins": [{"name": "artiflow", "plugin-class": "artiflow.plugin.ArtiflowPlugin"}],
        "asset-uris": [
            {
                "schemes": ["x-artiflow"],
                "handler": "artiflow.operators.asset_uris.normalize_uri",
                "to_openlineage_converter": "artiflow.operators.asset_uris.to_openlineage",
                "factory": "artiflow.operators.asset_uris.create_asset",
            }
        ],
        "config": {
            "artiflow": {
                "description": "artiflow's Airflow integration (the registry itself is "
                "configured by an ``artiflow`` connection or the ARTIFLOW_* environment).",
                "options": {
                    "conn_id": {
                        "description": "The connection artifact tasks use when they name none "
                        "(the environment variable ARTIFLOW_CONN_ID wins; empty: "
                        "artiflow_default if it exists, else the ARTIFLOW_* environment).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "artiflow_default",
                        "default": "",
                    },
                    "event_poll_interval": {
                        "description": "Default seconds between two polls of the registry by "
                        "ArtifactEventTrigger (AssetWatcher).",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "30",
                        "default": "30",
                    },
                },
            }
        },
    }
