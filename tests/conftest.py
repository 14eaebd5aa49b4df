"""Shared fixtures: a fresh embedded registry (real SQLite + real local folder) per test, and
scratch PostgreSQL databases.

PostgreSQL tests read ``ARTIFLOW_TEST_POSTGRES_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) and create a scratch database per test
on that server. Without it they skip, except when ``CI`` is set: then they fail, so CI never
silently loses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _scratch_databases import ScratchDatabases

from artiflow import Registry

PG_ENV = "ARTIFLOW_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch ~/.artiflow from a test: point ARTIFLOW_HOME at a temporary folder."""
    home = tmp_path_factory.mktemp("artiflow-home")
    monkeypatch.setenv("ARTIFLOW_HOME", str(home))
    for var in ("ARTIFLOW_DB_URL", "ARTIFLOW_STORE_URL", "ARTIFLOW_PROJECT", "ARTIFLOW_LINK_TYPE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(home=tmp_path / "home")
    yield reg
    reg.close()


@pytest.fixture
def make_files(tmp_path: Path) -> Callable[..., Path]:
    """make_files({"a.txt": "x", "sub/b.bin": b"..."}, root="name") -> the folder."""

    def make(files: dict[str, str | bytes], root: str = "data") -> Path:
        base = tmp_path / root
        for rel, content in files.items():
            p = base / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
        return base

    return make


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


# ---- databases -----------------------------------------------------------------------------
def postgres_base_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} is not set, and CI is: PostgreSQL tests must run in CI")
    pytest.skip(f"set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)")
    return None


_SCRATCH: dict[str, ScratchDatabases] = {}  # by server URL: made ahead, dropped behind


def _scratch(base: Any) -> ScratchDatabases:
    key = base.render_as_string(hide_password=False)
    if key not in _SCRATCH:
        _SCRATCH[key] = ScratchDatabases(base)
    return _SCRATCH[key]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Wait for the scratch databases' drops; a failed one fails the session."""
    errors = [e for scratch in _SCRATCH.values() for e in scratch.close()]
    _SCRATCH.clear()
    if errors:
        print("\nscratch databases left behind:\n" + "\n".join(errors))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards, in the
    background: tests/_scratch_databases.py)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ProgrammingError

    base = make_url(postgres_base_url() or "")
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    scratch = _scratch(base)
    try:
        name = scratch.take()
    except ProgrammingError:  # no CREATEDB right: empty the given database instead
        from sqlalchemy import create_engine

        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            _empty(admin)
            yield base.render_as_string(hide_password=False)
            _empty(admin)
        finally:
            admin.dispose()
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        scratch.drop(name)


def _empty(engine: Any) -> None:
    from sqlalchemy import text

    from artiflow.catalog.models import metadata

    metadata.drop_all(engine)
    with engine.connect() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
