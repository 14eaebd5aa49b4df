"""Smoke test of the benchmark harness (bench/run.py): one fast case, tiny sizes, in a few seconds.

The real benchmarks run with ``make bench``; this only checks that the harness, its artiflow
driver and its results table keep working as the core changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_resolve_smoke(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--quick",
            "--only",
            "resolve_p50",
            "--versions",
            "500",
            "--resolve-iters",
            "50",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RATIO ")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    _, case, value, target, status = lines[0].split()
    assert (case, target) == ("resolve_p50", "<=1ms")
    assert value.endswith("ms")
    assert status in ("PASS", "FAIL"), proc.stdout  # a number was measured, whatever it is
    table = results.read_text()
    assert "| `resolve_p50` |" in table
    assert "cores" in table
