"""PostgreSQL tests skip without ``ARTIFLOW_TEST_POSTGRES_URL`` on a laptop, and fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = str(Path(__file__).parent / "test_concurrent_writers.py") + (
    "::test_sqlite_file_and_postgres_share_migrations[postgres]"
)
_PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_timeout"]


def _run(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ARTIFLOW_TEST_POSTGRES_URL", "CI")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # no Airflow/Prefect plugins: seconds, not 15
    if ci:
        env["CI"] = "1"
    return subprocess.run(
        [*_PYTEST, "-rs", TARGET],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("ci", [False, True])
def test_postgres_tests_skip_locally_and_fail_in_ci(ci: bool) -> None:
    result = _run(ci)
    if ci:
        assert result.returncode == 1, result.stdout
        assert "must run in CI" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in result.stdout
