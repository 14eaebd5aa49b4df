"""Saves under concurrency (issue 11, item 13): a save writes only what its caller changed, and
a change to something another client changed since the caller loaded it raises ConflictError.

Two Registry objects over one database play two clients (SQLite file and PostgreSQL); one test
races processes doing read-modify-write saves of one counter and counts lost updates.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, ConflictError, Registry


def _pair(db_url: str, tmp_path: Path) -> tuple[Registry, Registry]:
    store = str(tmp_path / "store")
    return Registry(db_url, store), Registry(db_url, store)


def _log(reg: Registry, content: str, **kw: Any) -> Any:
    art = Artifact("model", type="model", metadata={"auc": 0.5})
    with art.new_file("m.txt") as f:
        f.write(content)
    return reg.log(art, **kw)


@pytest.fixture
def two(db_url: str, tmp_path: Path) -> Any:
    a, b = _pair(db_url, tmp_path)
    yield a, b
    a.close()
    b.close()


def test_stale_metadata_save_does_not_move_an_alias_back(two: Any) -> None:
    """The scenario of the issue: B moves production v0 -> v1; A's metadata-only save of its old
    v0 object must leave production on v1 (the old code put it back on v0)."""
    a, b = two
    _log(a, "one", aliases=["production"])
    _log(a, "two")
    stale = a.get("model:v0")
    assert "production" in stale.aliases
    b.alias("model:v1", "production")
    stale.metadata["auc"] = 0.9
    stale.save()
    assert b.get("model:production").version == "v1"
    assert b.get("model:v0").metadata["auc"] == 0.9
    assert "production" not in stale.aliases  # the object now shows the registry's state


def test_removing_an_alias_someone_moved_is_a_conflict(two: Any) -> None:
    a, b = two
    _log(a, "one", aliases=["production"])
    _log(a, "two")
    stale = a.get("model:v0")
    b.alias("model:v1", "production")
    stale.aliases.remove("production")
    with pytest.raises(ConflictError, match="production"):
        stale.save()
    assert b.get("model:production").version == "v1"


def test_adding_an_alias_someone_moved_since_load_is_a_conflict(two: Any) -> None:
    a, b = two
    _log(a, "one", aliases=["production"])
    _log(a, "two")
    _log(a, "three")
    stale = a.get("model:v2")
    b.alias("model:v1", "production")  # moved after A loaded v2
    stale.aliases.append("production")
    with pytest.raises(ConflictError, match="production"):
        stale.save()
    assert b.get("model:production").version == "v1"
    fresh = a.get("model:v2")  # reload, apply again: now it goes through
    fresh.aliases.append("production")
    fresh.save()
    assert b.get("model:production").version == "v2"


def test_unrelated_changes_merge(two: Any) -> None:
    a, b = two
    _log(a, "one", aliases=["production"], tags=["keep"])
    mine, theirs = a.get("model:v0"), b.get("model:v0")
    theirs.metadata["owner"] = "bob"
    theirs.tags.append("reviewed")
    theirs.description = "by bob"
    theirs.save()
    mine.metadata["auc"] = 0.7
    mine.tags.remove("keep")
    mine.tags.append("mine")
    mine.aliases.append("staging")
    mine.save()
    now = b.get("model:v0")
    assert now.metadata == {"auc": 0.7, "owner": "bob"}
    assert sorted(now.tags) == ["mine", "reviewed"]
    assert now.description == "by bob"
    assert sorted(now.aliases) == ["latest", "production", "staging"]
    assert mine.revision == now.revision > theirs.revision - 1


@pytest.mark.parametrize("field", ["metadata", "description"])
def test_the_same_field_changed_by_both_is_a_conflict(two: Any, field: str) -> None:
    a, b = two
    _log(a, "one")
    mine, theirs = a.get("model:v0"), b.get("model:v0")
    if field == "metadata":
        theirs.metadata["auc"] = 0.8
        mine.metadata["auc"] = 0.9
    else:
        theirs.description = "theirs"
        mine.description = "mine"
    theirs.save()
    with pytest.raises(ConflictError, match="auc" if field == "metadata" else "description"):
        mine.save()
    now = b.get("model:v0")
    assert (now.metadata["auc"], now.description) == (
        (0.8, None) if field == "metadata" else (0.5, "theirs")
    )


def test_nested_metadata_edits_in_place_are_seen(two: Any) -> None:
    a, b = two
    art = Artifact("model", type="model", metadata={"params": {"depth": 4}})
    with art.new_file("m.txt") as f:
        f.write("x")
    a.log(art)
    mine = a.get("model:v0")
    mine.metadata["params"]["depth"] = 6  # mutate the nested dict in place
    mine.save()
    assert b.get("model:v0").metadata["params"] == {"depth": 6}


def test_expected_revision_is_a_strict_precondition(two: Any) -> None:
    a, b = two
    _log(a, "one")
    mine = a.get("model:v0")
    loaded = mine.revision
    theirs = b.get("model:v0")
    theirs.tags.append("other")
    theirs.save()
    assert theirs.revision > loaded
    mine.description = "mine"
    with pytest.raises(ConflictError, match="revision"):
        mine.save(expected_revision=loaded)
    mine.save(expected_revision=theirs.revision)
    assert b.get("model:v0").description == "mine"


def test_an_alias_move_changes_the_revision_of_both_versions(two: Any) -> None:
    a, b = two
    _log(a, "one", aliases=["production"])
    _log(a, "two")
    v0, v1 = a.get("model:v0").revision, a.get("model:v1").revision
    b.alias("model:v1", "production")
    assert a.get("model:v0").revision > v0
    assert a.get("model:v1").revision > v1


def test_alias_compare_and_set(two: Any) -> None:
    a, b = two
    _log(a, "one", aliases=["production"])
    _log(a, "two")
    _log(a, "three")
    b.alias("model:v1", "production", expected="v0")
    with pytest.raises(ConflictError, match="v1"):
        a.alias("model:v2", "production", expected="v0")
    assert a.get("model:production").version == "v1"
    a.alias("model:v2", "staging", expected="none")
    with pytest.raises(ConflictError):
        b.alias("model:v1", "staging", expected="none")


def _counter_worker(args: tuple[str, str, int]) -> int:
    db_url, store, n = args
    reg = Registry(db_url, store)
    conflicts = 0
    try:
        for _ in range(n):
            while True:
                v = reg.get("model:v0")
                v.metadata["count"] = v.metadata.get("count", 0) + 1
                try:
                    v.save()
                    break
                except ConflictError:
                    conflicts += 1
    finally:
        reg.close()
    return conflicts


def test_concurrent_read_modify_write_loses_no_update(db_url: str, tmp_path: Path) -> None:
    """4 processes x 15 increments of one metadata key: every increment lands (the old code,
    writing the whole stale object back, lost most of them)."""
    reg = Registry(db_url, str(tmp_path / "store"))
    _log(reg, "one")
    ctx = multiprocessing.get_context("spawn")
    workers, n = 4, 15
    with ctx.Pool(workers) as pool:
        conflicts = pool.map(_counter_worker, [(db_url, str(tmp_path / "store"), n)] * workers)
    assert reg.get("model:v0").metadata["count"] == workers * n, conflicts
    reg.close()


def test_cli_alias_expect_edit_and_remove(db_url: str, tmp_path: Path, capsys: Any) -> None:
    from artiflow.cli import main

    store = str(tmp_path / "store")
    common = ["--db-url", db_url, "--store-url", store]
    reg = Registry(db_url, store)
    _log(reg, "one", aliases=["production"])
    _log(reg, "two")
    assert main([*common, "alias", "model:v1", "production", "--expect", "v1"]) == 4  # conflict
    assert "conflict" in capsys.readouterr().err
    assert reg.get("model:production").version == "v0"
    assert main([*common, "alias", "model:v1", "production", "--expect", "v0"]) == 0
    assert reg.get("model:production").version == "v1"

    loaded = reg.get("model:v1").revision
    other = reg.get("model:v1")
    other.tags.append("reviewed")
    other.save()
    assert main([*common, "edit", "model:v1", "--meta", "auc=0.9", "--revision", str(loaded)]) == 4
    assert main([*common, "edit", "model:v1", "--meta", "auc=0.9", "--tag", "gold"]) == 0
    now = reg.get("model:v1")
    assert (now.metadata["auc"], sorted(now.tags)) == (0.9, ["gold", "reviewed"])
    assert main([*common, "edit", "model:v1", "--unset-meta", "auc", "--untag", "gold"]) == 0
    now = reg.get("model:v1")
    assert ("auc" in now.metadata, now.tags) == (False, ["reviewed"])

    assert main([*common, "alias", "model:v0", "production", "--remove"]) == 2  # not on v0
    assert main([*common, "alias", "model:v1", "production", "--remove"]) == 0
    assert "production" not in reg.get("model:v1").aliases
    reg.close()
