"""Shared fixtures: a fresh embedded registry (real SQLite + real local folder) per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from artiflow import Registry


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
