"""The README's five-minute tour runs as written (on a fresh embedded registry)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _tour() -> str:
    text = README.read_text()
    section = text.split("## Five minutes with the registry", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its five-minute tour"
    return match.group(1)


def test_readme_tour_runs(tmp_path: Path) -> None:
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "rentals.csv").write_text("hour,count\n0,12\n")
    env = {**os.environ, "ARTIFLOW_HOME": str(tmp_path / "home")}
    env.pop("ARTIFLOW_DB_URL", None)
    env.pop("ARTIFLOW_STORE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", _tour()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "default/bike-dataset:v0 ['latest', 'staging']" in out.stdout
    lineage = out.stdout.split("['latest', 'staging']", 1)[1]
    assert "bike-model" in lineage and "bike-dataset" in lineage  # the upstream graph
    assert (tmp_path / "artifacts" / "bike-dataset:v0" / "README.txt").is_file()
