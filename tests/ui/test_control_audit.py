"""Alias moves from the web API are audited as ``via="web"`` with the user the request names
(``X-Artiflow-User``), and the alias history the page shows says who moved each alias, how."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.ui import create_app

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _draft(name: str, text: str) -> Artifact:
    art = Artifact(name)
    with art.new_file("x.txt") as f:
        f.write(text)
    return art


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[Registry]:
    with Registry(home=tmp_path / "home") as r:
        r.log(_draft("model", "a"))
        r.log(_draft("model", "b"))
        yield r


def _client(reg: Registry) -> Any:
    with warnings.catch_warnings():  # starlette 1.x warns that its TestClient wants httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(create_app(reg, allow_writes=True, write_token=TOKEN))


def test_web_alias_moves_are_audited_with_the_user(reg: Registry) -> None:
    reg.alias("model:v0", "production")  # from Python: via "python"
    with _client(reg) as client:
        moved = client.put(
            "api/collections/default/model/aliases/production",
            json={"version": "v1"},
            headers={**AUTH, "X-Artiflow-User": "ana"},
        )
        assert moved.status_code == 200, moved.text
        anon = client.put(
            "api/collections/default/model/aliases/staging", json={"version": "v1"}, headers=AUTH
        )
        assert anon.status_code == 200, anon.text
        bad = client.put(
            "api/collections/default/model/aliases/staging",
            json={"version": "v0"},
            headers={**AUTH, "X-Artiflow-User": "<script>"},
        )
        assert bad.status_code == 422  # a user name is a plain label, never markup
        history = client.get("api/collections/default/model/alias-history").json()["items"]
    audit = reg.alias_audit("model")
    assert [(a["alias"], a["version"], a["via"], a["moved_by"]) for a in audit[:2]] == [
        ("staging", "v1", "web", "write-token"),
        ("production", "v1", "web", "ana"),
    ]
    assert audit[2]["via"] == "python"
    shown = [(e["alias"], e["version"], e["via"], e["moved_by"]) for e in history]
    assert shown[:2] == [
        ("staging", "v1", "web", "write-token"),
        ("production", "v1", "web", "ana"),
    ]
    assert shown[2][:3] == ("production", "v0", "python")
    assert reg.get("model:staging").version == "v1"  # the refused request moved nothing


def test_the_collection_page_names_who_moved_each_alias(
    browser: Any, reg: Registry, live_server: Any
) -> None:
    from artiflow._ops.policy import acting_as

    with acting_as("web", by="ana"):
        reg.alias("model:v1", "production")
    with live_server(create_app(reg)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}#/collection/default/model")
        page.wait_for_selector(".alias-history td.moved-by")
        assert "ana (web)" in page.locator(".alias-history").inner_text()
        assert not errors, errors
        page.close()
