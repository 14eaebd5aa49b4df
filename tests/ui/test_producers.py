"""Every run that logged a version appears on its page, a de-duplicated re-log included.

The second run logs the same content as the first: no new version is made, but the run is a
producer of it, as `artiflow show` and lineage already say (tests/core/test_run_labels.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from artiflow import Artifact, Registry
from artiflow.ui import create_app


def _relogged(home: Path) -> Registry:
    reg = Registry(home=home)
    src = home / "src.csv"
    src.write_text("a,b\n1,2\n")
    for run_id in ("scheduled__1", "scheduled__2"):
        with reg.run(
            "fit", task="fit", orchestrator="airflow", pipeline="nightly", pipeline_run=run_id
        ) as run:
            draft = Artifact("ds", type="dataset")
            draft.add_file(src)
            run.log(draft)
    return reg


def test_api_lists_every_producer(tmp_path: Path) -> None:
    with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    reg = _relogged(tmp_path)
    with TestClient(create_app(reg)) as client:
        v = client.get("/api/versions/default/ds/v0").json()
    runs = [r["pipeline_run"] for r in v["producers"]]
    assert runs == ["scheduled__1", "scheduled__2"]
    assert v["producer"]["pipeline_run"] == "scheduled__1"


def test_page_shows_the_relogging_run(browser: Any, tmp_path: Path, live_server: Any) -> None:
    reg = _relogged(tmp_path)
    with live_server(create_app(reg)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}#/version/default/ds/v0")
        page.wait_for_selector("dd.producer")
        text = page.locator("dd.producer").inner_text()
        assert "scheduled__1" in text and "scheduled__2" in text, text
        assert "re-logged the same content" in text
        assert errors == []
