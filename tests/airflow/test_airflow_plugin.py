"""The Airflow plugin in a real Airflow API server app: /artiflow behind Airflow's auth, the
views, the listener registration."""

from __future__ import annotations

import pytest
from airflow_helpers import task_states

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def api():
    """Airflow's API server app (with plugins) and a JWT of a logged-in user."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    app = create_app()
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def test_plugin_is_loaded_with_views_and_listener(api):
    from airflow import plugins_manager
    from airflow.listeners.listener import get_listener_manager

    import artiflow.plugin.listener as listener

    names = (
        [p.name for p in plugins_manager.get_plugins()[0]]
        if hasattr(plugins_manager, "get_plugins")
        else [p.name for p in plugins_manager._get_plugins()[0]]
    )
    assert "artiflow" in names
    assert listener in get_listener_manager().pm.get_plugins()

    client, auth = api
    body = client.get("/api/v2/plugins", headers=auth).json()
    ours = next(p for p in body["plugins"] if p["name"] == "artiflow")
    views = {v["destination"]: v for v in ours["external_views"]}
    assert views["nav"]["href"] == "/artiflow/"
    assert views["task_instance"]["href"].startswith("/artiflow/airflow/ti?dag_id={DAG_ID}")
    assert ours["fastapi_apps"][0]["url_prefix"] == "/artiflow"


def test_registry_api_requires_an_airflow_login(api, registry):
    from artiflow import Artifact

    draft = Artifact("plugin-data")
    with draft.new_file("x.txt") as f:
        f.write("x")
    v = registry.log(draft)

    client, auth = api
    assert client.get("/artiflow/api/collections").status_code == 401
    assert client.get("/artiflow/airflow/api/ti?dag_id=d&run_id=r&task_id=t").status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert client.get("/artiflow/api/collections", headers=bad).status_code in (401, 403)

    r = client.get("/artiflow/api/collections", headers=auth)
    assert r.status_code == 200, r.text
    assert v.collection in [c["name"] for c in r.json()["items"]]
    page = client.get("/artiflow/", headers=auth)
    assert page.status_code == 200
    assert "<html" in page.text.lower()


def test_task_instance_view_lists_the_runs_of_a_try(api, run_dag, registry):
    dr = run_dag("af_provider")
    assert set(task_states(dr).values()) == {"success"}
    client, auth = api
    q = {"dag_id": "af_provider", "run_id": dr.run_id, "task_id": "read", "map_index": "-1"}
    body = client.get("/artiflow/airflow/api/ti", params=q, headers=auth).json()
    (run,) = body["runs"]
    assert run["state"] == "SUCCESS"
    assert run["used"] == [registry.get("provider-data").ref]
    assert run["logged"] == []

    r = client.get("/artiflow/airflow/ti", params=q, headers=auth, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == f"/artiflow/#/run/{run['id']}"

    q["task_id"] = "no_such_task"
    r = client.get("/artiflow/airflow/ti", params=q, headers=auth, follow_redirects=False)
    assert r.status_code == 200 and "No artiflow run" in r.text
