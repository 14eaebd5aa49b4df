"""The ``ArtiflowRegistry`` block and CLI events against a real ``prefect server`` (the server
``server`` fixture of this folder's conftest.py: one server for the session, ~25 s to start).

- ``prefect block register -m artiflow.prefect`` registers the block type; a block saved with a
  secret database URL is stored masked and loads back whole; a flow whose artifact task says
  ``registry="artiflow-registry/<name>"`` logs into the block's registry.
- ``artiflow alias numbers:v0 production`` in a subprocess, with ``PREFECT_API_URL`` pointing at
  the server, emits ``artiflow.alias.moved`` (the ``artiflow.event_publishers`` entry point,
  declared in pyproject.toml, made visible to the subprocess as installed metadata).

The registry is on PostgreSQL when ``ARTIFLOW_TEST_POSTGRES_URL`` is set (required under CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_prefect_real_server import (  # type: ignore[import-not-found]
    PREFECT,
    REPO,
    _base_env,
    _postgres_wanted,
    _unavailable,
)

from artiflow import Artifact, Registry

ARTIFLOW = Path(sys.executable).with_name("artiflow")


@pytest.fixture
def fresh_pg_url() -> Any:
    """A fresh PostgreSQL database ``h_prefect2_<pid>_<random>`` on the ``ARTIFLOW_TEST_POSTGRES_URL``
    server (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = os.environ.get("ARTIFLOW_TEST_POSTGRES_URL")
    if not url:
        _unavailable("set ARTIFLOW_TEST_POSTGRES_URL to run the PostgreSQL registry variant")
    base = make_url(url or "")
    name = f"h_prefect2_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def config(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """The registry's configuration (PostgreSQL metadata when available, else SQLite)."""
    cfg = {"store_url": (tmp_path / "store").as_uri()}
    if _postgres_wanted():
        cfg["db_url"] = request.getfixturevalue("fresh_pg_url")
    else:
        cfg["db_url"] = f"sqlite:///{tmp_path / 'registry.db'}"
    return cfg


def _settings(url: str) -> Any:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    return temporary_settings(updates={PREFECT_API_URL: url})


def test_block_registered_saved_loaded_and_used_by_a_flow(
    server: str,
    config: dict[str, str],
    tmp_path: Path,
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client

    from artiflow.prefect import ArtiflowRegistry, artifact_task, flush_events, resolve_registry

    env = _base_env(tmp_path / "cli-home", server)
    proc = subprocess.run(
        [str(PREFECT), "block", "register", "-m", "artiflow.prefect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    name = f"prod-{uuid.uuid4().hex[:8]}"
    with _settings(server):
        with get_client(sync_client=True) as client:
            block_type = client.read_block_type_by_slug("artiflow-registry")
            assert block_type.name == "Artiflow Registry"

        fields: dict[str, Any] = {  # plain values: pydantic makes them secrets
            "database_url": config["db_url"],
            "store_url": config["store_url"],
            "storage_options": {"auto_mkdir": True},
            "ui_url": "http://artiflow.example/ui/",
        }
        ArtiflowRegistry(**fields).save(name)
        with get_client(sync_client=True) as client:
            doc = client.read_block_document_by_name(
                name, block_type_slug="artiflow-registry", include_secrets=False
            )
        stored = str(doc.data)
        assert config["db_url"] not in stored  # the secret is stored masked
        loaded: Any = ArtiflowRegistry.load(name)
        assert loaded.database_url is not None
        assert loaded.database_url.get_secret_value() == config["db_url"]
        assert loaded.fsspec_options() == {"auto_mkdir": True}

        @artifact_task(outputs={"out": "numbers"}, registry=f"artiflow-registry/{name}")
        def produce(n: int, out: Any) -> None:
            with out.new_file("n.txt") as f:
                f.write(str(n))

        @artifact_task(inputs={"numbers": "numbers:latest"}, registry=name)
        async def read(numbers: Any) -> str:
            return (numbers.local_path / "n.txt").read_text()

        @flow
        def pipeline() -> str:
            produce(7)
            return read()  # type: ignore[no-any-return]

        assert pipeline() == "7"
        reg = Registry(db_url=config["db_url"], store_url=config["store_url"])
        version = reg.get("numbers:latest")
        run = version.logged_by()
        assert version.version == "v0" and run is not None and run.orchestrator == "prefect"
        assert resolve_registry(name).settings.db_url == reg.settings.db_url
        flush_events()  # the artifacts are posted in the background
        with get_client(sync_client=True) as client:  # the block's ui_url: a link artifact
            links = [
                a
                for a in client.read_artifacts()
                if a.type == "link" and "http://artiflow.example/ui/" in str(a.data)
            ]
        assert [str(a.task_run_id) for a in links] == [run.info["task_run_id"]]
        assert "#/version/default/numbers/v0" in str(links[0].data)
        reg.close()

        with pytest.raises(LookupError, match="no ArtiflowRegistry block named"):
            resolve_registry("artiflow-registry/never-saved")


def _publisher_metadata(site: Path) -> None:
    """Installed-package metadata declaring pyproject's ``artiflow.event_publishers`` entry
    points (the shared editable install predates them)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    group = project["entry-points"]["artiflow.event_publishers"]
    dist = site / "artiflow_test_publishers-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: artiflow-test-publishers\nVersion: 0\n"
    )
    lines = ["[artiflow.event_publishers]", *(f"{k} = {v}" for k, v in group.items())]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_cli_promotion_and_log_emit_prefect_events(
    server: str,
    config: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the CLI's environment has no ARTIFLOW_ variable, so its identity derives from the
    # database; so must this process's, even when the session sets one (tests/airflow does)
    monkeypatch.delenv("ARTIFLOW_REGISTRY_NAME", raising=False)
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    from artiflow.identity import registry_identity

    reg = Registry(db_url=config["db_url"], store_url=config["store_url"])
    art = Artifact("numbers", type="dataset")
    with art.new_file("n.txt") as f:
        f.write("1")
    reg.log(art)
    ident = registry_identity(reg)
    reg.close()

    site = tmp_path / "site"
    _publisher_metadata(site)
    env = _base_env(tmp_path / "cli-home", server)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(site)])
    env["ARTIFLOW_DB_URL"] = config["db_url"]
    env["ARTIFLOW_STORE_URL"] = config["store_url"]
    since = datetime.now(timezone.utc)
    data = tmp_path / "data"
    data.mkdir()
    (data / "n.txt").write_text("2")
    for args in (["alias", "numbers:v0", "production"], ["log", str(data), "--name", "numbers"]):
        proc = subprocess.run(
            [str(ARTIFLOW), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, (args, proc.stdout + proc.stderr)

    expected = {"artiflow.alias.moved", "artiflow.version.created"}
    deadline = time.monotonic() + 30
    with _settings(server), get_client(sync_client=True) as client:
        while True:
            page = client.read_events(
                filter=EventFilter(
                    occurred=EventOccurredFilter(
                        since=since,  # type: ignore[arg-type]
                        until=datetime.now(timezone.utc) + timedelta(minutes=1),  # type: ignore[arg-type]
                    ),
                    event=EventNameFilter(prefix=["artiflow."]),
                ),
                limit=50,
            )
            mine = [e for e in page.events if e.resource.get("artiflow.registry") == ident]
            if {e.event for e in mine} >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    by_name = {e.event: e for e in mine}
    assert set(by_name) >= expected, [e.event for e in mine]
    moved = by_name["artiflow.alias.moved"]
    assert moved.resource.id == f"artiflow://{ident}/default/numbers"
    assert moved.resource["artiflow.alias"] == "production"
    assert moved.payload["ref"] == "default/numbers:v0"
    created = [e for e in mine if e.event == "artiflow.version.created"]
    assert [e.payload["version"] for e in created] == ["v1"]  # once each, not twice
    assert len([e for e in mine if e.event == "artiflow.alias.moved"]) == 1
