"""The commit path that writers contending for one collection take (issue 15 item 4), on one
SQLite file and on PostgreSQL: the version a log returns is the version stored (its record is
built from the values the commit had in hand, not read back), identical content logged by
concurrent writers is one version, big versions keep every entry, and a collection created by
racing writers gets each index once."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
import traceback
from pathlib import Path
from typing import Any

from artiflow import Artifact, Registry


def _same_record(logged: Any, reg: Registry) -> None:
    """The record a log returned equals the record read back now, field by field."""
    stored = reg.get(logged.ref).record
    assert dataclasses.asdict(logged.record) == dataclasses.asdict(stored)


def test_logged_record_is_the_stored_record(db_url: str, tmp_path: Path) -> None:
    with Registry(db_url, str(tmp_path / "objects"), home=str(tmp_path / "home")) as reg:
        first = Artifact(
            "ds",
            type="dataset",
            description="first",
            metadata={"rows": [1, 2], "none": None, "nested": {"k": 1.5}, "s": "é"},
        )
        with first.new_file("a.txt") as fh:
            fh.write("a")
        v0 = reg.log(first)
        _same_record(v0, reg)
        assert v0.aliases == ["latest"] and v0.index == 0
        v0.aliases.append("production")  # an alias event: alias_seq of later reads is > 0
        v0.save()

        second = Artifact("ds", type="dataset", metadata={"n": 2})
        with second.new_file("a.txt") as fh:
            fh.write("b")
        second.add_file(__file__, name="deep/dir/test.py")
        v1 = reg.log(second)
        assert v1.record.alias_seq > 0
        _same_record(v1, reg)
        assert [e.path for e in v1.manifest.entries.values()] == ["a.txt", "deep/dir/test.py"]

        with reg.run("writer") as run:
            third = Artifact("ds", type="dataset")
            with third.new_file("c.txt") as fh:
                fh.write("c")
            v2 = run.log(third)  # a logged edge: still built from the values in hand
            _same_record(v2, reg)
        assert [v.ref for v in run.logged_artifacts()] == [v2.ref]

        labelled = Artifact("ds", type="dataset")
        with labelled.new_file("d.txt") as fh:
            fh.write("d")
        v3 = reg.log(labelled, aliases=["staging"], tags=["t1"])
        _same_record(v3, reg)
        assert v3.aliases == ["latest", "staging"] and v3.tags == ["t1"]

        again = Artifact("ds", type="dataset")
        with again.new_file("d.txt") as fh:
            fh.write("d")
        same = reg.log(again)  # identical to latest: no new version
        assert same.index == 3
        _same_record(same, reg)
        assert [v.index for v in reg.versions("ds")] == [0, 1, 2, 3]


def test_a_version_of_many_files_keeps_every_entry(db_url: str, tmp_path: Path) -> None:
    """More entries than one commit statement carries (5,000 on PostgreSQL): the rest are
    inserted in the same transaction."""
    src = tmp_path / "many"
    src.mkdir()
    for i in range(5003):
        (src / f"f{i:05d}.txt").write_text(str(i))
    with Registry(db_url, str(tmp_path / "objects"), home=str(tmp_path / "home")) as reg:
        first = Artifact("many", type="dataset")  # the collection exists: the common path
        with first.new_file("one.txt") as fh:
            fh.write("1")
        reg.log(first)
        art = Artifact("many", type="dataset")
        art.add_dir(str(src))
        v = reg.log(art)
        _same_record(v, reg)
    # another home: nothing cached from the log, every entry read from the database
    with Registry(db_url, str(tmp_path / "objects"), home=str(tmp_path / "check")) as reg:
        got = reg.get("many:latest")
        assert got.file_count == 5003 and len(got.manifest.entries) == 5003
        assert got.manifest.entries["f05002.txt"].size == 4
        got.verify(got.download(tmp_path / "dl"))


def _log_same(db_url: str, store: str, home: str, rounds: int, start_at: float) -> dict[str, Any]:
    try:
        reg = Registry(db_url, store, home=home)
        reg.collections()
        out = []
        for r in range(rounds):
            while time.time() < start_at + r * 1.5:  # every worker logs round r at once
                time.sleep(0.002)
            art = Artifact(f"same-{r}", type="dataset")
            with art.new_file("data.txt") as fh:
                fh.write(f"round {r}\n")  # the same content in every worker
            out.append(reg.log(art).index)
        reg.close()
        return {"ok": out}
    except BaseException as exc:  # reported to the test, which fails on it
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}


def _log_new(db_url: str, store: str, home: str, name: str, start_at: float) -> dict[str, Any]:
    try:
        reg = Registry(db_url, store, home=home)
        reg.collections()
        art = Artifact(name, type="dataset")
        with art.new_file("data.txt") as fh:
            fh.write(f"{os.getpid()} {time.time_ns()}\n")
        while time.time() < start_at:
            time.sleep(0.002)
        index = reg.log(art).index
        reg.close()
        return {"ok": index}
    except BaseException as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}


def _run(fn: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(args)) as pool:
        out = [r.get(timeout=200) for r in [pool.apply_async(fn, a) for a in args]]
    errors = [r for r in out if "error" in r]
    assert not errors, "\n\n".join(r["trace"] for r in errors)
    return [r["ok"] for r in out]


def test_identical_content_from_concurrent_writers_is_one_version(
    db_url: str, tmp_path: Path
) -> None:
    """6 processes log the same content into one collection at the same moment (3 rounds, a
    collection each): one version per collection, and every writer gets it back."""
    store = str(tmp_path / "objects")
    procs, rounds = 6, 3
    with Registry(db_url, store, home=str(tmp_path / "setup")) as reg:
        for r in range(rounds):  # the schema and the collections (v0), up front
            seed = Artifact(f"same-{r}", type="dataset")
            with seed.new_file("data.txt") as fh:
                fh.write("seed\n")
            reg.log(seed)
    start_at = time.time() + 8
    got = _run(_log_same, [(db_url, store, str(tmp_path / "home"), rounds, start_at)] * procs)
    assert len(got) == procs
    for indices in got:
        assert indices == [1, 1, 1]
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        for r in range(rounds):
            assert [v.index for v in reg.versions(f"same-{r}")] == [0, 1]


def test_writers_racing_to_create_a_collection_get_each_index_once(
    db_url: str, tmp_path: Path
) -> None:
    """6 processes log into a collection that does not exist yet, at the same moment, for 4
    collections: indices 0..5 in each (the commit of a writer that saw no collection row when
    it locked must not insert under the lock of the writer that created it)."""
    store = str(tmp_path / "objects")
    with Registry(db_url, store, home=str(tmp_path / "setup")) as reg:
        reg.collections()
    start_at = time.time() + 8
    args = [
        (db_url, store, str(tmp_path / "home"), f"new-{c}", start_at + c * 1.0)
        for c in range(4)
        for _ in range(6)
    ]
    got = _run(_log_new, args)
    for c in range(4):
        assert sorted(got[c * 6 : c * 6 + 6]) == list(range(6))
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        for c in range(4):
            assert [v.index for v in reg.versions(f"new-{c}")] == list(range(6))
