"""The web app the Airflow plugin mounts at ``/artiflow`` in the Airflow API server.

It is the registry web page and JSON API (:func:`artiflow.ui.create_app`) plus two
Airflow-specific routes:

* ``GET /airflow/ti?dag_id=&run_id=&task_id=&map_index=`` -- the task-instance view: redirects
  to the registry page of the newest artiflow run of that task instance (the versions that try
  used and produced), or says that none was recorded;
* ``GET /airflow/api/ti?...`` -- the same as JSON: every try's run with its used/logged refs.

Every route requires an authenticated Airflow user (``requires_authenticated()``) unless other
``dependencies`` are given. Nothing touches a database before the first request.

Example:
    >>> from artiflow.plugin.app import create_plugin_app
    >>> app = create_plugin_app(dependencies=[])  # doctest: +SKIP
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

__all__ = ["airflow_auth_dependencies", "create_plugin_app", "task_instance_runs"]

log = logging.getLogger(__name__)


def airflow_auth_dependencies() -> list[Any]:
    """``[Depends(requires_authenticated())]``: any logged-in Airflow user (API server only).

    Example:
        >>> deps = airflow_auth_dependencies()  # doctest: +SKIP
    """
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return [Depends(requires_authenticated())]


def task_instance_runs(
    registry: Any, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> list[dict[str, Any]]:
    """Every artiflow run recorded for one Airflow task instance (one per try), newest first.

    Example:
        >>> task_instance_runs(reg, "nightly", "manual__...", "build")  # doctest: +SKIP
        [{'id': '...', 'try_number': 1, 'state': 'SUCCESS', 'used': [...], 'logged': [...]}]
    """
    runs = registry.runs(orchestrator="airflow", pipeline=dag_id, pipeline_run=run_id)
    out = []
    for run in runs:
        if run.task != task_id:
            continue
        if map_index is not None and int(run.map_index if run.map_index is not None else -1) != (
            int(map_index)
        ):
            continue
        d = run.to_dict()
        d["used"] = [v.ref for v in run.used_artifacts()]
        d["logged"] = [v.ref for v in run.logged_artifacts()]
        out.append(d)
    out.sort(key=lambda d: (d.get("try_number") or 0, d.get("started_at") or ""), reverse=True)
    return out


def _map_index(value: str | None) -> int:
    try:
        return int(value) if value not in (None, "", "null", "undefined") else -1
    except ValueError:
        return -1


def create_plugin_app(
    registry: Any = None,
    *,
    dependencies: Sequence[Any] | None = None,
) -> FastAPI:
    """Build the app mounted at ``/artiflow`` (registry page + API + task-instance view).

    ``dependencies`` default to Airflow's authentication; pass ``[]`` to serve without it
    (tests, a standalone server behind another gate).

    Example:
        >>> from fastapi.testclient import TestClient  # doctest: +SKIP
        >>> client = TestClient(create_plugin_app(dependencies=[]))  # doctest: +SKIP
    """
    deps = list(airflow_auth_dependencies() if dependencies is None else dependencies)
    app = FastAPI(
        title="artiflow (Airflow plugin)",
        dependencies=deps,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    state: dict[str, Any] = {"registry": registry}

    def get_reg() -> Any:
        if state["registry"] is None:
            from artiflow.operators import get_registry

            state["registry"] = get_registry()
        return state["registry"]

    @app.get("/airflow/api/ti")
    def ti_runs(
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: str | None = Query(default=None),
    ) -> dict[str, Any]:
        """The artiflow runs (tries) of a task instance with the refs they used and logged."""
        runs = task_instance_runs(get_reg(), dag_id, run_id, task_id, _map_index(map_index))
        return {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "runs": runs}

    @app.get("/airflow/ti", response_model=None)
    def ti_view(
        request: Request,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: str | None = Query(default=None),
    ) -> Response:
        """Task-instance view: go to the registry page of this try's run."""
        runs = task_instance_runs(get_reg(), dag_id, run_id, task_id, _map_index(map_index))
        root = request.scope.get("root_path", "")
        if runs:
            return RedirectResponse(f"{root}/#/run/{runs[0]['id']}", status_code=307)
        body = (
            "<!doctype html><meta charset=utf-8><title>artiflow</title>"
            f"<p>No artiflow run was recorded for <code>{html.escape(dag_id)}.{html.escape(task_id)}"
            f"</code> in <code>{html.escape(run_id)}</code>.</p>"
            f'<p><a href="{html.escape(root)}/">Open the artifact registry</a></p>'
        )
        return HTMLResponse(body)

    try:
        from artiflow.ui import create_app
    except ImportError as exc:  # the web page is optional
        log.warning("artiflow: web page not available (%s); serving the Airflow routes only", exc)
    else:
        page_registry = registry
        if page_registry is None and os.environ.get("ARTIFLOW_CONN_ID"):
            try:  # a Registry object opens nothing until used; the connection is read now
                page_registry = get_reg()
            except Exception:
                log.exception("artiflow: cannot build the registry from ARTIFLOW_CONN_ID")
        # dependencies are applied by the outer app to our routes and by the inner app to its own
        app.mount("/", create_app(page_registry, dependencies=deps))
    return app
