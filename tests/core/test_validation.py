"""Bad input is rejected before anything is written, the same on SQLite and PostgreSQL.

Every case runs on both databases: the error is an ``InvalidFieldError`` (or ``InvalidRefError``
for a semantic version), an ``ArtiflowError`` and a ``ValueError`` naming the field and its
limit, and afterwards the store holds no blob and the catalog no version, collection or run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, func, select

from artiflow import (
    Artifact,
    ArtiflowError,
    InvalidFieldError,
    InvalidRefError,
    Registry,
)
from artiflow.catalog import models
from artiflow.limits import (
    DEFAULT_MAX_METADATA_BYTES,
    INT32,
    LIMITS,
    METADATA_ENV,
    NAME_MAX,
    validate_json,
)

MiB = 1024 * 1024


# ---- the table of limits matches the columns --------------------------------------------------
# String columns that artiflow fills itself (states, digests, kinds), never from user input
_INTERNAL = {
    "gc_intents.digest",  # a blob digest written by gc
    "pending_tombstones.distributed_id",  # a copy of versions.distributed_id
    "collections.kind",
    "versions.digest",
    "versions.state",
    "entries.digest",
    "alias_events.alias",  # a copy of aliases.alias
    "alias_events.run_id",  # a copy of runs.id
    "runs.state",
    "run_io.run_id",
    "run_io.direction",
    # run locks: copies of runs.orchestrator / pipeline / pipeline_run / task (checked with the
    # same LIMITS entries before a lock is written), parsed refs, versions.digest, "project/name"
    "run_locks.orchestrator",
    "run_locks.pipeline",
    "run_locks.pipeline_run",
    "run_locks.kept_by",  # the OS user name, cut to the column
    "run_lock_entries.ref",  # a parsed ref (project 128 + name 128 + selector)
    "run_lock_entries.task",
    "replay_outputs.collection",
    "replay_outputs.task",
    "replay_outputs.digest",
    "replay_outputs.original_digest",
}


def test_every_limit_fits_its_column() -> None:
    for spec in LIMITS.values():
        table, column = spec.column.split(".")
        col = models.metadata.tables[table].c[column]
        length = getattr(col.type, "length", None)
        if isinstance(col.type, String) and length is not None:
            assert spec.max_chars is not None and spec.max_chars <= length, spec
        else:  # Text: unbounded on both databases, so no character limit is needed
            assert spec.max_chars is None, spec


def test_every_user_string_column_has_a_limit() -> None:
    covered = {spec.column for spec in LIMITS.values()}
    for table in models.metadata.tables.values():
        for col in table.c:
            if isinstance(col.type, String) and getattr(col.type, "length", None):
                name = f"{table.name}.{col.name}"
                assert name in covered or name in _INTERNAL, f"{name} has no entry in LIMITS"


def test_name_rule_is_the_column_size() -> None:
    assert NAME_MAX == models.collections.c.name.type.length == models.aliases.c.alias.type.length


# ---- one registry per database -------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Registry, Path]]:
    """``(registry, store folder)`` on a fresh SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    store = tmp_path / "objects"
    reg = Registry(db_url=url, store_url=str(store), home=tmp_path / "home")
    assert reg.catalog is not None  # created now: counting rows afterwards needs the tables
    yield reg, store
    reg.close()


def _blobs(store: Path) -> list[str]:
    return [str(p) for p in store.rglob("*") if p.is_file()] if store.exists() else []


def _rows(reg: Registry) -> dict[str, int]:
    with reg.catalog.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (models.collections, models.versions, models.entries, models.runs)
        }


def _draft(tmp_path: Path, name: str = "ds", **kw: Any) -> Artifact:
    art = Artifact(name, type="dataset")
    f = tmp_path / "payload.bin"
    f.write_bytes(os.urandom(64))  # new content each time: a blob would be stored
    art.add_file(f)
    for key, value in kw.items():
        setattr(art, key, value)  # changed after the draft was made: checked at log time
    return art


def _log(**kw: Any) -> Callable[[Registry, Path], Any]:
    return lambda reg, tmp: reg.log(_draft(tmp, **kw))


def _log_version(label: str) -> Callable[[Registry, Path], Any]:
    return lambda reg, tmp: reg.log(_draft(tmp), version=label)


def _upsert(distributed_id: str) -> Callable[[Registry, Path], Any]:
    return lambda reg, tmp: reg.upsert(_draft(tmp), distributed_id=distributed_id)


def _finish(distributed_id: str) -> Callable[[Registry, Path], Any]:
    return lambda reg, tmp: reg.finish(_draft(tmp), distributed_id=distributed_id)


def _run(*args: Any, **kw: Any) -> Callable[[Registry, Path], Any]:
    return lambda reg, tmp: reg.run(*args, **kw)


def _deep(n: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(n):
        value = {"x": value}
    return value


CASES: dict[str, tuple[Callable[[Registry, Path], Any], str, str]] = {
    # name: (action, field named in the message, limit named in the message)
    "type over 64": (_log(type="t" * 65), "type", "64"),
    "NUL in type": (_log(type="a\x00b"), "type", "control character"),
    "newline in type": (_log(type="a\nb"), "type", "control character"),
    "surrogate in type": (_log(type="a\udcff"), "type", "Unicode"),
    "semver over 128": (_log_version("1.0.0-" + "a" * 123), "semantic version", "128"),
    "semver non-ASCII digit": (_log_version("1\u0663.0.0"), "semantic version", "ASCII"),
    "NUL in description": (_log(description="a\x00b"), "description", "NUL"),
    "surrogate in description": (_log(description="x\ud800"), "description", "Unicode"),
    "description over 1 MiB": (_log(description="d" * (MiB + 1)), "description", "1,048,576"),
    "NaN in metadata": (_log(metadata={"auc": math.nan}), "metadata", "NaN"),
    "Infinity in metadata": (_log(metadata={"a": [1, -math.inf]}), "metadata", "Infinity"),
    "set in metadata": (_log(metadata={"ids": {1, 2}}), "metadata", "set"),
    "bytes in metadata": (_log(metadata={"raw": b"\x00"}), "metadata", "bytes"),
    "surrogate in metadata": (_log(metadata={"name": "caf\udce9"}), "metadata", "Unicode"),
    "NUL in metadata key": (_log(metadata={"a\x00": 1}), "metadata", "NUL"),
    "int key in metadata": (_log(metadata={1: "x"}), "metadata", "keys are strings"),
    "metadata over 1 MiB": (_log(metadata={"blob": "m" * MiB}), "metadata", "1,048,576"),
    "metadata nested too deep": (_log(metadata=_deep(100)), "metadata", "64 levels"),
    "metadata not a dict": (_log(metadata=[1, 2]), "metadata", "dict"),
    "distributed id over 255 (upsert)": (_upsert("d" * 256), "distributed_id", "255"),
    "distributed id over 255 (finish)": (_finish("d" * 256), "distributed_id", "255"),
    "NUL in distributed id": (_upsert("a\x00b"), "distributed_id", "control character"),
    "metadata NaN (upsert)": (
        lambda reg, tmp: reg.upsert(_draft(tmp, metadata={"x": math.nan}), distributed_id="d"),
        "metadata",
        "NaN",
    ),
    "run id over 64": (_run("train", run_id="r" * 65), "run_id", "64"),
    "run name over 255": (_run("n" * 256), "run_name", "255"),
    "NUL in run name": (_run("a\x00b"), "run_name", "control character"),
    "pipeline over 255": (_run("train", pipeline="p" * 256), "pipeline", "255"),
    "pipeline run over 255": (_run("train", pipeline_run="r" * 256), "pipeline_run", "255"),
    "task over 255": (_run("train", task="t" * 256), "task", "255"),
    "orchestrator over 32": (_run("train", orchestrator="o" * 33), "orchestrator", "32"),
    "NaN in run info": (_run("train", info={"lr": math.nan}), "info", "NaN"),
    "set in run info": (_run("train", info={"s": {1}}), "info", "set"),
    "run info over 1 MiB": (_run("train", info={"x": "i" * MiB}), "info", "1,048,576"),
    "try number past 32 bits": (_run("train", try_number=2**31), "try_number", str(INT32[1])),
    "map index past 32 bits": (_run("train", map_index=-(2**31) - 1), "map_index", "2147483647"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_field_is_refused_before_anything_is_written(
    backend: tuple[Registry, Path], tmp_path: Path, case: str
) -> None:
    reg, store = backend
    action, field, limit = CASES[case]
    before = _rows(reg)
    with pytest.raises((InvalidFieldError, InvalidRefError)) as info:
        action(reg, tmp_path)
    err = info.value
    assert isinstance(err, ArtiflowError) and isinstance(err, ValueError)
    assert field in str(err) and limit in str(err), str(err)
    if isinstance(err, InvalidFieldError):
        assert err.field and err.limit
    assert _blobs(store) == [], "a blob was stored before the input was validated"
    assert _rows(reg) == before


def test_values_at_the_limits_are_stored_the_same_on_both_databases(
    backend: tuple[Registry, Path], tmp_path: Path
) -> None:
    reg, _ = backend
    meta = {"unicode": "é中文🙂", "nested": {"list": [1, 2.5, None, True]}, "big": 2**62}
    draft = _draft(tmp_path, type="t" * 64, description="line one\nline\ttwo", metadata=meta)
    label = "1.0.0-" + "a" * 122  # 128 characters
    v = reg.log(draft, version=label)
    again = reg.get(v.ref)
    assert (again.type, again.description, again.metadata, str(again.semver)) == (
        "t" * 64,
        "line one\nline\ttwo",
        meta,
        label,
    )
    reg.upsert(_draft(tmp_path, "parts"), distributed_id="d" * 255)
    assert reg.finish(Artifact("parts"), distributed_id="d" * 255).version == "v0"
    with reg.run("n" * 255, run_id="r" * 64, try_number=INT32[1], map_index=INT32[0]) as run:
        pass
    got = reg.get_run(run.id)
    assert (got.name, got.try_number, got.map_index) == ("n" * 255, INT32[1], INT32[0])


def test_edits_through_save_are_checked_before_the_write(
    backend: tuple[Registry, Path], tmp_path: Path
) -> None:
    reg, _ = backend
    v = reg.log(_draft(tmp_path, metadata={"ok": 1}, description="first"))
    for attr, value in [
        ("metadata", {"auc": math.nan}),
        ("metadata", {"ids": {1}}),
        ("metadata", {"x": "m" * MiB}),
        ("description", "bad\x00"),
    ]:
        edited = reg.get(v.ref)
        setattr(edited, attr, value)
        edited.tags.append("edited")
        with pytest.raises(InvalidFieldError, match=attr):
            edited.save()
    stored = reg.get(v.ref)
    assert (stored.metadata, stored.description, stored.tags) == ({"ok": 1}, "first", [])


def test_a_run_error_with_nul_is_stored_escaped(backend: tuple[Registry, Path]) -> None:
    reg, _ = backend
    with pytest.raises(RuntimeError), reg.run("train") as run:
        raise RuntimeError("bad byte \x00 and \udcff")
    stored = reg.get_run(run.id)
    assert stored.state == "FAILED" and "\\x00" in stored.error and "\x00" not in stored.error


def test_metadata_cap_from_the_environment_and_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METADATA_ENV, "100")
    reg = Registry(home=tmp_path / "a")
    assert reg.max_metadata_bytes == 100
    with pytest.raises(InvalidFieldError, match=r"over the limit of 100 bytes") as info:
        reg.log(_draft(tmp_path, metadata={"x": "y" * 100}))
    assert METADATA_ENV in str(info.value) and info.value.field == "metadata"
    with pytest.raises(InvalidFieldError, match="description"):
        reg.log(_draft(tmp_path, description="d" * 101))
    with pytest.raises(InvalidFieldError, match="info"):
        reg.run("train", info={"x": "y" * 100})
    big = Registry(home=tmp_path / "b", max_metadata_bytes=4 * MiB)
    assert big.log(_draft(tmp_path, metadata={"x": "y" * (2 * MiB)})).metadata["x"][:1] == "y"
    monkeypatch.setenv(METADATA_ENV, "lots")
    with pytest.raises(InvalidFieldError, match=METADATA_ENV):
        Registry(home=tmp_path / "c")
    monkeypatch.delenv(METADATA_ENV)
    assert Registry(home=tmp_path / "d").max_metadata_bytes == DEFAULT_MAX_METADATA_BYTES


def test_metadata_errors_name_where_the_bad_value_is() -> None:
    with pytest.raises(InvalidFieldError, match=r"metadata\['a'\]\[1\]\['b'\] is nan"):
        validate_json("metadata", {"a": [0, {"b": math.nan}]})
    assert validate_json("metadata", {"t": (1, 2)}) == {"t": (1, 2)}  # tuples are JSON lists
