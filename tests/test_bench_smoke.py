"""Smoke test of the benchmark harness (bench/run.py): one fast case, tiny sizes, in a few seconds.

The real benchmarks run with ``make bench``; this only checks that the harness, its artiflow
driver and its results table keep working as the core changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.timeout(600)  # under a minute idle; minutes on a loaded 2-core machine
def test_bench_scale_smoke(tmp_path: Path) -> None:
    """``bench/scale.py --smoke``: every scale case prints its RATIO line, none errors.

    Runs every group (files ladder, dvc, SQL-generated catalog on SQLite and, when a server is
    reachable, PostgreSQL, 4 contending writers, moto behind the latency proxy) at tiny sizes;
    under a minute on an idle 2-core machine. The numbers are not judged here, only that each
    case measured one (dvc and PostgreSQL may SKIP when absent, with the reason).
    """
    scale = REPO / "bench" / "scale.py"
    listed = subprocess.run(
        [sys.executable, str(scale), "--list"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    names = [line.split()[1] for line in listed if line.strip()]
    assert len(names) >= 30 and "catalog_resolve_p99_pg" in names
    results = tmp_path / "results-scale.md"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                str(scale),
                "--smoke",
                "--work",
                str(tmp_path / "work"),
                "--results",
                str(results),
            ],
            capture_output=True,
            text=True,
            timeout=570,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired as exc:  # a loaded machine: say so rather than hang
        pytest.fail(f"bench/scale.py --smoke took over 570 s: {exc.stdout!r}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {
        line.split()[1]: line.split()
        for line in proc.stdout.splitlines()
        if line.startswith("RATIO ")
    }
    assert sorted(lines) == sorted(names), proc.stdout
    for name, (_, _, value, _target, status) in lines.items():
        assert status in ("PASS", "FAIL", "SKIP"), (name, proc.stdout)
        if status != "SKIP":
            assert value != "n/a", (name, proc.stdout)
        else:
            assert name.startswith("dvc_") or name.endswith("_pg"), (name, proc.stdout)
    assert "per-file cost" in proc.stdout.lower()
    table = results.read_text()
    assert "| `files1m_log_vs_cp` |" in table and "| `s3lat_mem` |" in table


@pytest.mark.timeout(900)  # ~30 s idle; minutes niced on a loaded 2-core machine
def test_bench_cli_smoke(tmp_path: Path) -> None:
    """The ``cli`` group (whole ``artiflow`` processes): each case prints its RATIO line with
    every repetition and the spread; ``cli_log_small_vs_dvc`` may SKIP when bench/.peers has no
    dvc (``--no-peer-install``)."""
    results = tmp_path / "results.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--quick",
            "--only",
            "cli",
            "--files",
            "200",
            "--reps",
            "1",
            "--cli-reps",
            "2",
            "--no-peer-install",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=880,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {
        line.split()[1]: line.split()
        for line in proc.stdout.splitlines()
        if line.startswith("RATIO ")
    }
    assert set(lines) == {"cli_ls", "cli_log_small_vs_dvc", "cli_log_small_vs_cp"}, proc.stdout
    assert lines["cli_ls"][3] == "<=0.15s" and lines["cli_ls"][2].endswith("s")
    assert lines["cli_ls"][4] in ("PASS", "FAIL"), proc.stdout
    assert lines["cli_log_small_vs_cp"][4] in ("PASS", "FAIL"), proc.stdout
    assert lines["cli_log_small_vs_dvc"][4] in ("PASS", "FAIL", "SKIP"), proc.stdout
    assert "spread" in proc.stdout and "best of 2" in proc.stdout
    assert "| `cli_ls` |" in results.read_text()


@pytest.mark.timeout(600)
def test_bench_scale_web_smoke(tmp_path: Path) -> None:
    """``bench/scale.py --smoke --only web``: the page in headless Chromium over a SQL-seeded
    registry (200 versions, 1,000 files, 30 consumers) prints its five RATIO lines; the 30
    consumers of the lineage view are drawn as collapsed groups (a count, not a clock)."""
    import os

    if not os.path.exists("/usr/bin/chromium"):
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium; CI must run this")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "scale.py"),
            "--smoke",
            "--only",
            "web",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results.md"),
        ],
        capture_output=True,
        text=True,
        timeout=570,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {
        line.split()[1]: line.split()
        for line in proc.stdout.splitlines()
        if line.startswith("RATIO ")
    }
    assert sorted(lines) == [
        "web_collection_first_page",
        "web_files_first_page",
        "web_lineage_expand",
        "web_lineage_nodes",
        "web_lineage_render",
    ], proc.stdout
    for name, (_, _, value, _target, status) in lines.items():
        assert status in ("PASS", "FAIL") and value != "n/a", (name, proc.stdout)
    # root + a group of 30 runs + a group of the 30 versions they logged
    assert lines["web_lineage_nodes"][2:] == ["3.00", "<=100", "PASS"], proc.stdout
    assert "groups of [30, 30]" in proc.stdout, proc.stdout
    assert "| `web_files_first_page` |" in (tmp_path / "results.md").read_text()


@pytest.mark.timeout(300)
def test_bench_scale_control_smoke(tmp_path: Path) -> None:
    """``bench/scale.py --smoke --only control``: the lineage-control cases (impact at depth 5,
    resolve under quarantines, quarantine of a wide fan-out) each print a measured RATIO line on
    PostgreSQL (SKIP with the reason when no server is reachable)."""
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "scale.py"),
            "--smoke",
            "--only",
            "control",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results-scale.md"),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines() if line.startswith("RATIO ")]
    assert [x[1] for x in lines] == [
        "control_impact_d5_p95_pg",
        "control_resolve_q1000_added_p50_pg",
        "control_quarantine_10k_pg",
    ], proc.stdout
    for _, name, value, _target, status in lines:
        assert status in ("PASS", "FAIL", "SKIP"), (name, proc.stdout)
        if status != "SKIP":
            assert value != "n/a" and value.endswith(("ms", "s")), (name, proc.stdout)
    if lines[-1][4] != "SKIP":
        assert "plain downstream lineage" in proc.stdout  # side by side
