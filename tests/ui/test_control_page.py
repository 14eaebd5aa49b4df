"""Quarantine and impact on the web page: the API shows a quarantined version (and what is
tainted by it) instead of refusing to, lists what was built from a version, and refuses to move
an alias onto a tainted version (409)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.ui import create_app

TOKEN = "s3cret"


def _draft(name: str, text: str) -> Artifact:
    art = Artifact(name)
    with art.new_file("x.txt") as f:
        f.write(text)
    return art


@pytest.fixture
def bad(tmp_path: Path) -> Iterator[Registry]:
    """raw:v0 -> (train) -> model:v0 (production); raw:v0 is then quarantined."""
    with Registry(home=tmp_path / "home") as reg:
        reg.log(_draft("raw", "zeros"))
        with reg.run("train", task="train") as run:
            run.use("raw:v0")
            run.log(_draft("model", "weights"), aliases=["production"])
        reg.log(_draft("model", "other weights"))  # v1: clean
        reg.quarantine("raw:v0", "sensor 7 sent zeros")
        yield reg


def _client(reg: Registry) -> Any:
    with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(create_app(reg, allow_writes=True, write_token=TOKEN))


def test_api_shows_quarantine_taint_and_impact(bad: Registry) -> None:
    with _client(bad) as client:
        raw = client.get("api/versions/default/raw/v0").json()
        assert raw["quarantine"]["reason"] == "sensor 7 sent zeros" and raw["tainted_by"] is None
        model = client.get("api/versions/default/model/production")  # shown, not refused
        assert model.status_code == 200
        assert model.json()["tainted_by"]["ref"] == "default/raw:v0"
        impact = client.get("api/impact/default/raw/v0").json()
        assert impact["schema"] == "artiflow.impact/1" and impact["count"] == 1
        assert [v["ref"] for v in impact["versions"]] == ["default/model:v0"]
        assert {(a["collection"], a["alias"]) for a in impact["aliases"]} >= {
            ("model", "production")
        }
        moved = client.put(
            "api/collections/default/model/aliases/staging",
            json={"version": "v0"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert moved.status_code == 409 and "sensor 7" in moved.json()["detail"]
        assert (
            "/api/impact/{project}/{name}/{selector}"
            in client.get("api/openapi.json").json()["paths"]
        )


def test_version_page_shows_the_quarantine_and_what_it_affects(
    browser: Any, bad: Registry, live_server: Any
) -> None:
    with live_server(create_app(bad)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}#/version/default/raw/v0")
        page.wait_for_selector(".impact[data-ready] table.impact-table")
        assert page.locator("h1 .quarantine-badge").count() == 1
        assert "sensor 7 sent zeros" in page.locator(".quarantine-note").inner_text()
        assert "default/model:v0" in page.locator("table.impact-table").inner_text()
        page.goto(f"{base}#/version/default/model/v0")
        page.wait_for_selector("h1 .tainted-badge")
        assert not errors, errors
        page.close()
