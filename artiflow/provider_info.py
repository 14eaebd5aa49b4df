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


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow expects from ``apache_airflow_provider``.

    Example:
        >>> info = get_provider_info()
        >>> info["package-name"], info["task-decorators"][0]["class-name"]
        ('artiflow', 'artiflow.operators.artifact_task')
    """
    return {
        "package-name": "artiflow",
        "name": "artiflow",
        "description": "Artifact-aware Airflow tasks over the artiflow artifact registry.",
        "versions": [_version()],
        "task-decorators": [
            {"name": "artiflow", "class-name": "artiflow.operators.artifact_task"},
        ],
    }
