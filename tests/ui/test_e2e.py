"""The page in a real headless Chromium (Playwright), against a live server.

The main walk (model version -> lineage -> raw dataset) runs against the ``artiflow ui`` command;
the others serve ``create_app`` with uvicorn in a thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from artiflow import Registry
from artiflow.ui import create_app

READY_LINEAGE = ".canvas[data-ready='1'] svg.lineage"


def new_page(browser: Any) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


def version_labels(page: Any) -> set[str]:
    nodes = page.locator("svg.lineage a.node.version")
    return {nodes.nth(i).get_attribute("data-label") for i in range(nodes.count())}


def test_model_to_raw_dataset_through_lineage(
    browser: Any, seeded_home: Path, ui_command: Any, tmp_path: Path
) -> None:
    with ui_command(seeded_home) as base:  # the real `artiflow ui` command
        page, errors = new_page(browser)
        page.goto(f"{base}#/version/default/churn-model/production")
        page.wait_for_selector(".files[data-ready]")
        assert page.locator("h1").inner_text().startswith("churn-model:v1")
        assert "train" in page.locator("dd.producer").inner_text()
        assert "evaluate" in page.locator("dd.consumers").inner_text()
        assert page.locator("table.files-table td.path").all_inner_texts() == ["model.json"]
        page.screenshot(path=str(tmp_path / "model-version.png"), full_page=True)

        page.click("a.lineage-link")
        page.wait_for_selector(READY_LINEAGE)
        assert "#/lineage/default/churn-model/v1" in page.url
        root = page.locator("svg.lineage a.node.root")
        assert root.get_attribute("data-label") == "churn-model:v1"
        assert {"raw-bikes:v0", "bikes-clean:v0", "eval-report:v0"} <= version_labels(page)
        assert page.locator("svg.lineage a.node.run").count() >= 4

        # the depth control: one run away, the raw data is out of reach
        page.select_option("select[name=depth]", "1")
        page.wait_for_function(
            "() => !document.querySelector(\"svg.lineage a[data-label='raw-bikes:v0']\")"
        )
        page.wait_for_selector(READY_LINEAGE)
        assert "raw-bikes:v0" not in version_labels(page)
        assert "depth=1" in page.url
        page.select_option("select[name=direction]", "upstream")
        page.select_option("select[name=depth]", "all")
        page.wait_for_selector("svg.lineage a[data-label='raw-bikes:v0']")
        assert "eval-report:v0" not in version_labels(page)
        page.screenshot(path=str(tmp_path / "lineage.png"), full_page=True)

        page.click("svg.lineage a.node[data-label='raw-bikes:v0']")
        page.wait_for_selector("h1:has-text('raw-bikes:v0')")
        page.wait_for_selector(".files[data-ready]")
        assert "#/version/default/raw-bikes/v0" in page.url
        assert "ingest" in page.locator("dd.producer").inner_text()
        page.screenshot(path=str(tmp_path / "raw-dataset.png"), full_page=True)
        assert (tmp_path / "raw-dataset.png").stat().st_size > 10_000

        # back in history returns to the graph
        page.go_back()
        page.wait_for_selector(READY_LINEAGE)
        assert not errors, errors
        page.close()


def test_search_collection_alias_history_and_download(
    browser: Any, registry: Registry, live_server: Any
) -> None:
    with live_server(create_app(registry)) as base:
        page, errors = new_page(browser)
        page.goto(base)
        page.wait_for_selector(".results[data-ready] table")
        assert page.locator("a.collection-link").count() == 7
        page.fill("input[type=search]", "churn-m")
        page.wait_for_function("() => document.querySelectorAll('a.collection-link').length === 1")
        assert "q=churn-m" in page.url
        page.click("a.collection-link")
        page.wait_for_selector(".alias-history table")
        history = page.locator(".alias-history table").inner_text()
        assert "production" in history and "v0" in history and "v1" in history
        assert "production → v1" in page.locator("dl.facts").inner_text()

        page.click("a.version-link:text('v0')")
        page.wait_for_selector(".files[data-ready]")
        with page.expect_download() as info:
            page.click("a.download")
        download = info.value
        assert download.suggested_filename == "model.json"
        assert Path(download.path()).read_text() == '{"weights": [0.1, 0.2]}'

        page.click("header nav a[data-nav='runs']")
        page.wait_for_selector(".runs-page table")
        page.click(".runs-page a:text('prepare')")
        page.wait_for_selector(".run-page")
        assert "raw-bikes:v0" in page.locator(".run-page").inner_text()
        page.click("header nav a[data-nav='api']")
        page.wait_for_selector(".api-page article.op")
        assert not errors, errors
        page.close()


def test_mounted_under_a_prefix_in_the_browser(
    browser: Any, registry: Registry, live_server: Any
) -> None:
    parent = FastAPI()
    parent.mount("/artiflow", create_app(registry))
    with live_server(parent) as base:
        page, errors = new_page(browser)
        page.goto(f"{base}artiflow")
        page.wait_for_selector(".results[data-ready] table")
        assert page.url.startswith(f"{base}artiflow/")
        page.goto(f"{base}artiflow/#/lineage/default/bikes-clean/v0")
        page.wait_for_selector(READY_LINEAGE)
        page.click("svg.lineage a.node[data-label='churn-model:v1']")
        page.wait_for_selector("h1:has-text('churn-model:v1')")
        assert page.url.startswith(f"{base}artiflow/#/version/")
        assert not errors, errors
        page.close()


def test_big_version_renders_paged(browser: Any, registry: Registry, live_server: Any) -> None:
    """The 10,000-file version renders one server-side page at a time (its speed is measured by
    `make bench`, not asserted here)."""
    page, errors = new_page(browser)
    with live_server(create_app(registry)) as base:
        page.goto(base)
        page.wait_for_selector(".results[data-ready] table")
        page.goto(f"{base}#/version/default/many-files/v0")
        page.wait_for_selector(".files[data-ready] table")
        assert page.locator("table.files-table tbody tr").count() == 100
        assert "10,000 files" in page.locator(".files").inner_text()
        page.click(".files .pager button:text('Next')")
        page.wait_for_selector("td.path:text('part-00/row-00100.txt')")
    assert not errors, errors
    page.close()
