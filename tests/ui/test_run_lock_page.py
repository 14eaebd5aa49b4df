"""The run lock of a pipeline run in the web API (``GET api/locks``) and on a run's page."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow._tasking import TaskContext, TaskExecution
from artiflow.ui import create_app


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Registry]:
    """``ds`` v0 then v1 with ``production`` moving between two reads of one pipeline run:
    the second read still gets v0 (the lock) and the page must show that."""
    with Registry(home=tmp_path / "home") as reg:
        for n in range(2):
            art = Artifact("ds")
            with art.new_file("n.txt") as f:
                f.write(str(n))
            reg.log(art, aliases=["production"] if n == 0 else [])
        for task in ("train", "evaluate"):
            ctx = TaskContext("manual", pipeline="retrain", pipeline_run="r-7", task=task)
            with TaskExecution(ctx, inputs={"d": "ds:production"}, outputs={}, registry=reg) as ex:
                ex.open()
            reg.alias("ds:v1", "production")  # moves between the two reads of the run
        yield reg


def new_page(browser: Any) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


def _client(reg: Registry) -> Any:
    with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(create_app(reg))


def test_api_gives_the_lock_of_a_pipeline_run(locked: Registry) -> None:
    with _client(locked) as client:
        lock = client.get(
            "api/locks", params={"orchestrator": "manual", "pipeline_run": "r-7"}
        ).json()
        assert lock["pipeline"] == "retrain" and lock["kept"] is False
        assert [(e["ref"], e["version_ref"], e["task"]) for e in lock["entries"]] == [
            ("default/ds:production", "default/ds:v0", "train")
        ]
        missing = client.get("api/locks", params={"orchestrator": "manual", "pipeline_run": "no"})
        assert missing.status_code == 404 and "no" in missing.json()["detail"]
        assert "/api/locks" in client.get("api/openapi.json").json()["paths"]


def test_run_page_shows_the_lock(browser: Any, locked: Registry, live_server: Any) -> None:
    run = next(r for r in locked.runs(pipeline_run="r-7") if r.task == "evaluate")
    with live_server(create_app(locked)) as base:
        page, errors = new_page(browser)
        page.goto(f"{base}#/run/{run.id}")
        page.wait_for_selector("table.lock-table")
        row = page.locator("table.lock-table tbody tr").first
        assert "default/ds:production" in row.inner_text()
        assert "default/ds:v0" in row.inner_text() and "train" in row.inner_text()
        assert not errors, errors
        page.close()
