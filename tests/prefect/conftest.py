"""Fixtures for the Prefect integration tests.

One Prefect test server for the whole session (``prefect_test_harness``, about 8-10 s to start)
in a temporary ``PREFECT_HOME`` with analytics off; a fresh registry (``ARTIFLOW_HOME``) per test.
The Prefect settings are read when ``prefect`` is first imported, so the environment is set here,
before any test module imports it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="artiflow-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# the server persists events in batches every 5 s by default; tests read them back sooner
os.environ["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL"] = "0.25"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
# results of opted-in caching go under the temporary home, not ~/.prefect
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(_PREFECT_HOME) / "storage")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `flows`, `examples` and `dags` live at the repository root
    sys.path.insert(0, str(REPO))

pytest.importorskip("prefect")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Prefect and its server emit warnings we do not own (the suite turns warnings to errors)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::UserWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
            item.add_marker(
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
            )


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """The session-wide Prefect test server; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield str(PREFECT_API_URL.value())


# ---- a real `prefect server start`, shared by the modules that need one -----------------------
_REAL_SERVER: dict[str, Any] = {}  # "stop": stops it; "last": the node id of its last test


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``prefect server start`` (its own SQLite database) for the session's real-server
    tests (test_prefect_real_server.py, test_prefect_block_server.py; each test uses pools,
    deployments and blocks of its own); stopped after the last test that uses it."""
    from _prefect_server import prefect_server_process

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(prefect_server_process(tmp_path_factory.mktemp("prefect-server")))
        _REAL_SERVER["stop"] = stack.close
        yield url


def pytest_collection_finish(session: pytest.Session) -> None:
    users = [item.nodeid for item in session.items if "server" in getattr(item, "fixturenames", ())]
    _REAL_SERVER["last"] = users[-1] if users else None


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the server once its last test is done, not at the end of the whole session (no
    later test uses it: the fixture's cached URL is never handed out again)."""
    if item.nodeid == _REAL_SERVER.get("last") and "stop" in _REAL_SERVER:
        _REAL_SERVER.pop("stop")()


@pytest.fixture
def registry(prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh registry in ``tmp_path``, also the default ``Registry()`` of the tasks and flows."""
    from artiflow.prefect.tasks import _default_registry

    home = tmp_path / "artiflow-home"
    monkeypatch.setenv("ARTIFLOW_HOME", str(home))
    for var in (
        "ARTIFLOW_DB_URL",
        "ARTIFLOW_STORE_URL",
        "ARTIFLOW_PROJECT",
        "ARTIFLOW_REGISTRY_NAME",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return _default_registry()


def read_events(
    prefix: str = "artiflow.",
    *,
    since: Any = None,
    expect: int = 1,
    where: Callable[[Any], bool] = lambda e: True,
    timeout: float = 15.0,
) -> list[Any]:
    """Events stored by the test server, polled until ``expect`` matching ones arrived."""
    from datetime import datetime, timedelta, timezone

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    from artiflow.prefect import flush_events

    flush_events()
    since = since or datetime.now(timezone.utc) - timedelta(hours=1)
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    with get_client(sync_client=True) as client:
        while True:
            flt = EventFilter(
                occurred=EventOccurredFilter(
                    since=since, until=datetime.now(timezone.utc) + timedelta(minutes=1)
                ),
                event=EventNameFilter(prefix=[prefix]),
            )
            page = client.read_events(filter=flt, limit=50)
            found = sorted((e for e in page.events if where(e)), key=lambda e: e.occurred)
            if len(found) >= expect or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


@pytest.fixture
def events() -> Callable[..., list[Any]]:
    """``events(prefix, since=..., expect=n, where=...)``: read events from the test server."""
    return read_events


@pytest.fixture
def now() -> Any:
    """A timestamp taken at the start of the test (to read only its events)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)  # events carry client-side timestamps: same clock
