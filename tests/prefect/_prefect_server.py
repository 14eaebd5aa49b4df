"""The real ``prefect server`` of the Prefect server tests (test_prefect_real_server.py,
test_prefect_block_server.py), importable by a name no other test folder has: one server process
is started for the session (the ``server`` fixture in this folder's conftest.py), and helpers
to start workers and clients against it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).with_name("prefect")


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the real Prefect server test cannot run under CI: {why}")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _base_env(home: Path, api_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTIFLOW_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group of the process started here
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def prefect_server_process(tmp_path: Path) -> Iterator[str]:
    """``prefect server start`` on a free port with its own SQLite database under ``tmp_path``;
    yields its API URL once ``/health`` answers, stops it (its process group) afterwards.
    Skips (under CI: fails) when it cannot start.

        with prefect_server_process(tmp) as api_url:
            ...  # PREFECT_API_URL=api_url
    """
    if not PREFECT.exists():
        _unavailable(f"no prefect command next to {sys.executable}")
    port = _free_port()
    home = tmp_path / "server-home"
    env = _base_env(home, None)
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    env["PREFECT_SERVER_LOGGING_LEVEL"] = "WARNING"
    env["PREFECT_UI_ENABLED"] = "false"
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (tmp_path / "server.log").read_text(errors="replace")[-2000:]
                _unavailable(f"prefect server did not start on port {port}:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)
        log.close()
