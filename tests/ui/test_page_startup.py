"""The page asks for its first data while its configuration loads; the write editors still
appear when the server allows writes, and never when it is read-only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.ui import create_app


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Any:
    reg = Registry(home=tmp_path_factory.mktemp("startup"))
    a = Artifact("ds", type="dataset")
    with a.new_file("x.csv") as f:
        f.write("x\n")
    reg.log(a)
    yield reg
    reg.close()


@pytest.mark.parametrize("writes", [True, False])
def test_editors_follow_the_configuration(
    browser: Any, small: Registry, live_server: Any, writes: bool, tmp_path: Path
) -> None:
    app = create_app(small, allow_writes=writes, write_token="t0ken" if writes else None)
    with live_server(app) as base:
        page = browser.new_page()

        def slow_config(route: Any) -> None:  # the configuration arrives after the page's data
            time.sleep(0.6)
            route.continue_()

        page.route("**/api/config", slow_config)
        for frag, section, editor in (
            ("#/collection/default/ds", "collection-page", "summary:has-text('Move or remove')"),
            ("#/version/default/ds/v0", "version-page", "summary:has-text('Edit description')"),
        ):
            page.goto(base + frag)
            page.reload()  # a fresh start of the page each time (the goto only moves the hash)
            page.wait_for_selector(f"section.{section} h1")
            page.wait_for_selector("#mode:text-matches('writes enabled|read-only')")
            assert page.locator(f"details.editor {editor}").count() == (1 if writes else 0), frag
            mode = page.locator("#mode").inner_text()
            assert mode == ("writes enabled" if writes else "read-only")
        page.close()
