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


def _bench(script: str, *args: str, work: Path, results: Path, timeout: float) -> str:
    """Run ``bench/<script> <args> --work <work> --results <results>`` in a subprocess from the
    repository root; assert it exits 0 and return its stdout (``pytest.fail`` with what it printed
    when it outlives ``timeout``: a loaded machine, said rather than hung)."""
    cmd = [sys.executable, str(REPO / "bench" / script), *args]
    try:
        proc = subprocess.run(
            [*cmd, "--work", str(work), "--results", str(results)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd[1:])} took over {timeout:g} s: {exc.stdout!r}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _ratios(stdout: str) -> list[list[str]]:
    """The ``RATIO <case> <value> <target> <status>`` lines, split, in the order printed."""
    return [line.split() for line in stdout.splitlines() if line.startswith("RATIO ")]


class _ScaleSmoke:
    """One ``bench/scale.py --smoke`` run (every group at tiny sizes), shared by the tests of
    its groups: ``--smoke --only web`` and ``--smoke --only control`` run those groups with the
    same sizes, so each is checked on this run's output instead of a run of its own."""

    def __init__(self, tmp: Path) -> None:
        self.results = tmp / "results-scale.md"
        self.stdout = _bench(
            "scale.py", "--smoke", work=tmp / "work", results=self.results, timeout=570
        )
        self.lines = _ratios(self.stdout)

    def group(self, prefix: str) -> list[list[str]]:
        return [x for x in self.lines if x[1].startswith(prefix)]


@pytest.fixture(scope="module")
def scale_smoke(tmp_path_factory: pytest.TempPathFactory) -> _ScaleSmoke:
    return _ScaleSmoke(tmp_path_factory.mktemp("scale-smoke"))


def test_bench_resolve_smoke(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    out = _bench(
        "run.py",
        *("--quick", "--only", "resolve_p50", "--versions", "500", "--resolve-iters", "50"),
        work=tmp_path / "work",
        results=results,
        timeout=120,
    )
    lines = _ratios(out)
    assert len(lines) == 1, out
    _, case, value, target, status = lines[0]
    assert (case, target) == ("resolve_p50", "<=1ms")
    assert value.endswith("ms")
    assert status in ("PASS", "FAIL"), out  # a number was measured, whatever it is
    table = results.read_text()
    assert "| `resolve_p50` |" in table
    assert "cores" in table


@pytest.mark.timeout(600)  # under a minute idle; minutes on a loaded 2-core machine
def test_bench_scale_smoke(scale_smoke: _ScaleSmoke) -> None:
    """``bench/scale.py --smoke``: every scale case prints its RATIO line, none errors.

    Runs every group (files ladder, dvc, SQL-generated catalog on SQLite and, when a server is
    reachable, PostgreSQL, 4 contending writers, moto behind the latency proxy, the web page,
    lineage control) at tiny sizes; under a minute on an idle 2-core machine. The numbers are
    not judged here, only that each case measured one (dvc and PostgreSQL may SKIP when absent,
    with the reason).
    """
    scale = REPO / "bench" / "scale.py"
    listed = subprocess.run(
        [sys.executable, str(scale), "--list"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    names = [line.split()[1] for line in listed if line.strip()]
    assert len(names) >= 30 and "catalog_resolve_p99_pg" in names
    out = scale_smoke.stdout
    lines = {x[1]: x for x in scale_smoke.lines}
    assert sorted(lines) == sorted(names), out
    for name, (_, _, value, _target, status) in lines.items():
        assert status in ("PASS", "FAIL", "SKIP"), (name, out)
        if status != "SKIP":
            assert value != "n/a", (name, out)
        else:
            assert name.startswith("dvc_") or name.endswith("_pg"), (name, out)
    assert "per-file cost" in out.lower()
    table = scale_smoke.results.read_text()
    assert "| `files1m_log_vs_cp` |" in table and "| `s3lat_mem` |" in table


@pytest.mark.timeout(300)
def test_bench_scale_only_runs_the_cases_asked_for(tmp_path: Path) -> None:
    """``bench/scale.py --smoke --only <group>`` runs that group alone (the web and control
    groups' own checks use the shared whole ``--smoke`` run): the ``dvc`` group, one case."""
    results = tmp_path / "results-scale.md"
    out = _bench(
        "scale.py",
        *("--smoke", "--only", "dvc"),
        work=tmp_path / "work",
        results=results,
        timeout=280,
    )
    assert [x[1] for x in _ratios(out)] == ["dvc_add_100k_vs_log"], out
    assert "# -- dvc" in out and "# -- files" not in out and "# -- web" not in out, out
    table = results.read_text()
    assert "| `dvc_add_100k_vs_log` |" in table and "| `s3lat_mem` |" not in table


@pytest.mark.timeout(900)  # ~30 s idle; minutes niced on a loaded 2-core machine
def test_bench_cli_smoke(tmp_path: Path) -> None:
    """The ``cli`` group (whole ``artiflow`` processes): each case prints its RATIO line with
    every repetition and the spread; ``cli_log_small_vs_dvc`` may SKIP when bench/.peers has no
    dvc (``--no-peer-install``)."""
    results = tmp_path / "results.md"
    out = _bench(
        "run.py",
        *("--quick", "--only", "cli", "--files", "200", "--reps", "1", "--cli-reps", "2"),
        "--no-peer-install",
        work=tmp_path / "work",
        results=results,
        timeout=880,
    )
    lines = {x[1]: x for x in _ratios(out)}
    assert set(lines) == {"cli_ls", "cli_log_small_vs_dvc", "cli_log_small_vs_cp"}, out
    assert lines["cli_ls"][3] == "<=0.15s" and lines["cli_ls"][2].endswith("s")
    assert lines["cli_ls"][4] in ("PASS", "FAIL"), out
    assert lines["cli_log_small_vs_cp"][4] in ("PASS", "FAIL"), out
    assert lines["cli_log_small_vs_dvc"][4] in ("PASS", "FAIL", "SKIP"), out
    assert "spread" in out and "best of 2" in out
    assert "| `cli_ls` |" in results.read_text()


@pytest.mark.timeout(600)  # the shared --smoke run, when this test is the first to need it
def test_bench_scale_web_smoke(scale_smoke: _ScaleSmoke) -> None:
    """The ``web`` group of ``bench/scale.py --smoke``: the page in headless Chromium over a
    SQL-seeded registry (200 versions, 1,000 files, 30 consumers) prints its five RATIO lines;
    the 30 consumers of the lineage view are drawn as collapsed groups (a count, not a clock)."""
    import os

    if not os.path.exists("/usr/bin/chromium"):
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium; CI must run this")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    out = scale_smoke.stdout
    lines = {x[1]: x for x in scale_smoke.group("web_")}
    assert sorted(lines) == [
        "web_collection_first_page",
        "web_files_first_page",
        "web_lineage_expand",
        "web_lineage_nodes",
        "web_lineage_render",
    ], out
    for name, (_, _, value, _target, status) in lines.items():
        assert status in ("PASS", "FAIL") and value != "n/a", (name, out)
    # root + a group of 30 runs + a group of the 30 versions they logged
    assert lines["web_lineage_nodes"][2:] == ["3.00", "<=100", "PASS"], out
    assert "groups of [30, 30]" in out, out
    assert "| `web_files_first_page` |" in scale_smoke.results.read_text()


@pytest.mark.timeout(600)  # the shared --smoke run, when this test is the first to need it
def test_bench_scale_control_smoke(scale_smoke: _ScaleSmoke) -> None:
    """The ``control`` group of ``bench/scale.py --smoke``: the lineage-control cases (impact at
    depth 5, resolve under quarantines, quarantine of a wide fan-out) each print a measured
    RATIO line on PostgreSQL (SKIP with the reason when no server is reachable)."""
    out = scale_smoke.stdout
    lines = scale_smoke.group("control_")
    assert [x[1] for x in lines] == [
        "control_impact_d5_p95_pg",
        "control_resolve_q1000_added_p50_pg",
        "control_quarantine_10k_pg",
    ], out
    for _, name, value, _target, status in lines:
        assert status in ("PASS", "FAIL", "SKIP"), (name, out)
        if status != "SKIP":
            assert value != "n/a" and value.endswith(("ms", "s")), (name, out)
    if lines[-1][4] != "SKIP":
        assert "plain downstream lineage" in out  # side by side
