"""The Airflow plugin of artiflow (entry point ``airflow.plugins`` -> ``ArtiflowPlugin``).

It adds, in the Airflow API server:

* the registry web page and JSON API at ``/artiflow`` (authenticated Airflow users only);
* a nav entry "Artifacts" (Browse menu) opening that page;
* a task-instance view "Artifacts" showing the run of that try: the versions it used and
  produced;

and, in task processes, a listener that records failed tries of artifact-aware tasks.
The web app is built only when the API server asks for it, never when a worker loads plugins.

Example:
    >>> from artiflow.plugin import ArtiflowPlugin
    >>> ArtiflowPlugin.name
    'artiflow'
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from . import listener

__all__ = ["URL_PREFIX", "ArtiflowPlugin"]

URL_PREFIX = "/artiflow"


class ArtiflowPlugin(AirflowPlugin):
    """Mounts the registry at ``/artiflow``, adds nav and task-instance views, and a listener.

    Example:
        >>> [v["destination"] for v in ArtiflowPlugin.external_views]
        ['nav', 'task_instance']
    """

    name = "artiflow"
    listeners = [listener]
    external_views = [
        {
            "name": "Artifacts",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "artiflow",
        },
        {
            "name": "Artifacts",
            "href": (
                f"{URL_PREFIX}/airflow/ti?dag_id={{DAG_ID}}&run_id={{RUN_ID}}"
                "&task_id={TASK_ID}&map_index={MAP_INDEX}"
            ),
            "destination": "task_instance",
            "url_route": "artiflow-task-instance",
        },
    ]

    _app: Any = None

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The app, built on first access (only the API server asks)."""
        cls = type(self)
        if cls._app is None:
            from .app import create_plugin_app

            cls._app = create_plugin_app()
        return [{"app": cls._app, "url_prefix": URL_PREFIX, "name": "artiflow"}]
