"""The lineage view of a version with many consumers draws them as collapsed groups (issue 15).

A dataset used by 60 runs of one task (each logging a model version) plus one run that also used
a second dataset: the 60 runs become one group node, the 60 models they logged another, the odd
run stays a node of its own; a click on a group shows 25 of its members (and, with them, the
versions they logged). Real registry, real uvicorn, real headless Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.ui import create_app

CONSUMERS = 60
READY = ".canvas[data-ready='1'] svg.lineage"


@pytest.fixture(scope="module")
def fanout(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("fanout")
    reg = Registry(home=home)
    hub = Artifact("hub", type="dataset")
    with hub.new_file("rows.csv") as f:
        f.write("a,b\n1,2\n")
    reg.log(hub)
    other = Artifact("lookup", type="dataset")
    with other.new_file("lookup.csv") as f:
        f.write("k,v\n")
    reg.log(other)
    for i in range(CONSUMERS):
        with reg.run("train", orchestrator="airflow", pipeline="sweep", task="train") as run:
            run.use("hub:v0")
            model = Artifact("model", type="model")
            with model.new_file("model.json") as f:
                f.write(f'{{"seed": {i}}}')
            run.log(model)
    with reg.run("join", orchestrator="airflow", pipeline="sweep", task="train") as run:
        run.use("hub:v0")  # same task, but it also used lookup: not a look-alike
        run.use("lookup:v0")
        joined = Artifact("joined", type="dataset")
        with joined.new_file("joined.csv") as f:
            f.write("x\n")
        run.log(joined)
    yield reg
    reg.close()


def groups(page: Any) -> dict[str, int]:
    """``{"run": count, "version": count}`` of the group nodes drawn (summed per kind)."""
    out: dict[str, int] = {}
    for g in page.locator("svg.lineage g.node.group").all():
        kind = "run" if "of-run" in (g.get_attribute("class") or "") else "version"
        out[kind] = out.get(kind, 0) + int(g.get_attribute("data-count") or 0)
    return out


def test_many_consumers_are_drawn_as_collapsed_groups(
    browser: Any, fanout: Registry, live_server: Any, tmp_path: Path
) -> None:
    with live_server(create_app(fanout)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}#/lineage/default/hub/v0?direction=downstream&depth=1")
        page.wait_for_selector(READY)
        # root, the odd run and its output, one group of runs, one group of models
        assert groups(page) == {"run": CONSUMERS, "version": CONSUMERS}
        assert page.locator("svg.lineage g.node.group").count() == 2
        assert page.locator("svg.lineage .nodes > *").count() == 5
        assert page.locator("svg.lineage a.node.root").get_attribute("data-label") == "hub:v0"
        assert page.locator("svg.lineage a[data-label='joined:v0']").count() == 1
        summary = page.locator(".summary").inner_text()
        assert "61 runs" in summary and "collapsed groups" in summary, summary
        page.screenshot(path=str(tmp_path / "groups.png"), full_page=True)

        # a click on the run group shows 25 runs, and the 25 models they logged split off
        page.click("svg.lineage g.node.group.of-run")
        page.wait_for_function(
            "() => document.querySelectorAll('svg.lineage a.node.run').length >= 26"
        )
        assert page.locator("svg.lineage a.node.run").count() == 25 + 1
        assert groups(page) == {"run": CONSUMERS - 25, "version": CONSUMERS - 25}
        models = page.locator("svg.lineage a.node.version[data-label^='model:']").count()
        assert models == 25
        # the keyboard opens a group too
        page.focus("svg.lineage g.node.group.of-run")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelectorAll('svg.lineage a.node.run').length >= 51"
        )
        assert groups(page) == {"run": CONSUMERS - 50, "version": CONSUMERS - 50}
        # a member is a link like any node: it opens its run
        page.locator("svg.lineage a.node.run").first.click()
        page.wait_for_selector("section.run-page h1")
        assert "#/run/" in page.url
        assert not errors, errors
        page.close()


def test_a_few_consumers_are_not_grouped(browser: Any, fanout: Registry, live_server: Any) -> None:
    """Below the threshold nothing is grouped: lookup:v0 has one consumer."""
    with live_server(create_app(fanout)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}#/lineage/default/lookup/v0?direction=downstream&depth=1")
        page.wait_for_selector(READY)
        assert page.locator("svg.lineage g.node.group").count() == 0
        assert page.locator("svg.lineage a[data-label='joined:v0']").count() == 1
        page.close()


def test_version_page_lists_the_first_consumers_and_links_the_rest(
    browser: Any, fanout: Registry, live_server: Any
) -> None:
    with live_server(create_app(fanout)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}#/version/default/hub/v0")
        page.wait_for_selector(".files[data-ready]")
        assert page.locator("dd.consumers li a.run-link").count() == 20
        more = page.locator("dd.consumers li.more-consumers a")
        assert more.inner_text() == f"and {CONSUMERS + 1 - 20} more (lineage)"
        more.click()
        page.wait_for_selector(READY)
        assert page.locator("svg.lineage g.node.group").count() >= 2
        page.close()
