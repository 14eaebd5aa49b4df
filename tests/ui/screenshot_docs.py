"""Regenerate ``docs/lineage.png`` (the README screenshot of the lineage view).

Run from the repository root: ``.venv/bin/python tests/ui/screenshot_docs.py [docs/lineage.png]``.
Uses the same seeded registry as the tests and the system Chromium.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def main(out: Path) -> None:
    spec = importlib.util.spec_from_file_location("ui_conftest", HERE / "conftest.py")
    assert spec is not None and spec.loader is not None
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)

    from playwright.sync_api import sync_playwright

    from artiflow.ui import create_app

    with tempfile.TemporaryDirectory() as home:
        reg = conftest.seed_registry(Path(home), big=False)
        with conftest.serve_in_thread(create_app(reg)) as base, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=conftest.CHROMIUM, args=conftest.CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1200, "height": 560}, device_scale_factor=2)
            page.emulate_media(color_scheme="light")
            page.goto(f"{base}#/lineage/default/bikes-clean/v0?direction=both&depth=all")
            page.wait_for_selector(".canvas[data-ready='1'] svg.lineage")
            box = page.locator(".lineage-page").bounding_box()
            assert box is not None
            height = box["y"] + box["height"] + 16
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1200, "height": height})
            browser.close()
        reg.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/lineage.png"))
