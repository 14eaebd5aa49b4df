"""Many OS processes write one registry at once, on one SQLite file and on PostgreSQL: version
indices are allocated exactly once, aliases have exactly one holder, collaborative versions lose
no entry, and "database is locked" never reaches the user."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import Counter
from pathlib import Path
from typing import Any

import _scale_workers as workers
import pytest

from artiflow import Artifact, Registry

PROCS = 5


def _run_all(fn: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``fn(*a)`` for each ``a`` in its own spawned process, all at once."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(args)) as pool:
        results = [pool.apply_async(fn, a) for a in args]
        out = [r.get(timeout=150) for r in results]
    errors = [r for r in out if "error" in r]
    assert not errors, "\n\n".join(r["trace"] for r in errors)
    return [r["ok"] for r in out]


def test_concurrent_logs_allocate_each_index_once(db_url: str, tmp_path: Path) -> None:
    """Fresh database: the workers also race to create the schema and the collection."""
    store = str(tmp_path / "objects")
    per_worker = 6
    got = _run_all(
        workers.log_many,
        [(db_url, store, str(tmp_path / "home"), w, per_worker) for w in range(PROCS)],
    )
    indices = [i for worker in got for i in worker]
    total = PROCS * per_worker
    assert sorted(indices) == list(range(total))  # no duplicate, none skipped
    for worker in got:
        assert worker == sorted(worker)  # each writer sees its own versions in order
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        versions = reg.versions("shared-ds")
        assert [v.index for v in versions] == list(range(total))
        assert reg.get("shared-ds:latest").index == total - 1
        assert len({v.digest for v in versions}) == total
        # content of every version is intact and verifies
        for v in versions[:: max(1, total // 5)]:
            root = v.download(tmp_path / "dl" / v.version)
            v.verify(root)
        # indices are never reused, even after a delete
        versions[-1].delete()
        art = Artifact("shared-ds", type="dataset")
        with art.new_file("data.txt") as fh:
            fh.write("after the race")
        assert reg.log(art).index == total


def test_concurrent_alias_moves_keep_one_holder(db_url: str, tmp_path: Path) -> None:
    store = str(tmp_path / "objects")
    n_versions = 4
    with Registry(db_url, store, home=str(tmp_path / "setup")) as reg:
        for i in range(n_versions):
            art = Artifact("alias-ds", type="dataset")
            with art.new_file("x.txt") as fh:
                fh.write(str(i))
            reg.log(art, aliases=["production"] if i == 0 else ())
    moves = 8
    _run_all(
        workers.move_aliases,
        [(db_url, store, str(tmp_path / "home"), w, moves, n_versions) for w in range(PROCS)],
    )
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        holders = [v.version for v in reg.versions("alias-ds") if "production" in v.aliases]
        assert len(holders) == 1
        # the move history is one unbroken chain: every move starts where the previous ended
        history = [h for h in reversed(reg.alias_history("alias-ds")) if h["alias"] == "production"]
        assert history[0]["previous"] is None
        for before, after in itertools.pairwise(history):
            assert after["previous"] == before["version"], history
        assert history[-1]["version"] == holders[0]


def test_concurrent_upserts_and_finish_lose_nothing(db_url: str, tmp_path: Path) -> None:
    """Writers add parts to one collaborative version while one of them finishes it: every part
    is either in the committed version or was refused with ArtifactFinalizedError."""
    store = str(tmp_path / "objects")
    home = str(tmp_path / "home")
    parts = 6
    args = [(db_url, store, home, w, parts, 3 if w == 0 else None) for w in range(PROCS)]
    results = _run_all(workers.upsert_parts, args)
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        finished = results[0]["finished"]
        assert finished == "v0"
        version = reg.get("shards:v0")
        committed = set(version.manifest.entries)
        added = {p for r in results for p in r["added"]}
        refused = {p for r in results for p in r["refused"]}
        assert committed == added  # nothing accepted was lost, nothing refused slipped in
        assert not committed & refused
        assert len(added) + len(refused) == PROCS * parts
        assert reg.versions("shards") == [version]  # one version, no stray PENDING visible
        root = version.download(tmp_path / "dl")
        version.verify(root)
        assert Counter(p.split("-")[1] for p in committed)  # parts of several writers


def test_concurrent_finishes_commit_once(db_url: str, tmp_path: Path) -> None:
    store = str(tmp_path / "objects")
    home = str(tmp_path / "home")
    args = [(db_url, store, home, w, 2, 1) for w in range(PROCS)]
    results = _run_all(workers.upsert_parts, args)
    outcomes = Counter(r["finished"] for r in results)
    assert outcomes["v0"] == 1, outcomes
    assert outcomes["already-finished"] == PROCS - 1, outcomes
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        assert [v.version for v in reg.versions("shards")] == ["v0"]
        committed = set(reg.get("shards:v0").manifest.entries)
        assert committed == {p for r in results for p in r["added"]}


def test_sqlite_file_and_postgres_share_migrations(db_url: str) -> None:
    from artiflow.catalog.engine import create_engine_for
    from artiflow.catalog.migrate import current_revision, head_revision

    with Registry(db_url, "memory://unused", home="/tmp/artiflow-mig") as reg:
        assert reg.collections() == []
    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_concurrent_multi_output_commits(db_url: str, tmp_path: Path) -> None:
    """``log_many`` commits several collections at once; writers that name them in different
    orders neither deadlock nor lose an index, and every commit is all-or-nothing."""
    store = str(tmp_path / "objects")
    per_worker = 4
    got = _run_all(
        workers.log_pairs,
        [(db_url, store, str(tmp_path / "home"), w, per_worker) for w in range(PROCS)],
    )
    total = PROCS * per_worker
    a = sorted(pair[0] for worker in got for pair in worker)
    b = sorted(pair[1] for worker in got for pair in worker)
    assert a == b == list(range(total))
    with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
        for name in ("pair-a", "pair-b"):
            assert [v.index for v in reg.versions(name)] == list(range(total))
        # the two versions of one commit carry the same worker/iteration
        metas_a = [(v.metadata["worker"], v.metadata["i"]) for v in reg.versions("pair-a")]
        metas_b = {(v.metadata["worker"], v.metadata["i"]) for v in reg.versions("pair-b")}
        assert set(metas_a) == metas_b


HEAVY_COMMITS = int(os.environ.get("ARTIFLOW_HEAVY_COMMITS", "50"))


@pytest.mark.timeout(900)
def test_heavy_concurrent_writers_with_alias_moves(db_url: str, tmp_path: Path) -> None:
    """64 writer processes on PostgreSQL (32 on SQLite) log 50 versions each into ONE
    collection, moving ``production`` and ``staging`` as they go: no error (no "database is
    locked"), indices exactly 0..N-1, one holder per alias, every version verifies. Workers come
    from a forkserver that imported artiflow once, so 64 processes start in seconds."""
    procs = 64 if db_url.startswith("postgresql") else 32
    procs = int(os.environ.get("ARTIFLOW_HEAVY_PROCS", procs))
    per_worker = HEAVY_COMMITS
    store = str(tmp_path / "objects")
    with Registry(db_url, store, home=str(tmp_path / "setup")) as reg:  # schema up front
        assert reg.collections() == []
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["_scale_workers"])
    start_line = ctx.Barrier(procs)  # all start at once, as soon as the whole pool is up
    with ctx.Pool(procs, initializer=workers.start_together, initargs=(start_line,)) as pool:
        args = [(db_url, store, str(tmp_path / "home"), w, per_worker) for w in range(procs)]
        pending = [pool.apply_async(workers.log_and_move, a) for a in args]
        out = [r.get(timeout=850) for r in pending]
        errors = [r for r in out if "error" in r]
        assert not errors, f"{len(errors)} writers failed:\n\n" + "\n\n".join(
            r["trace"] for r in errors[:3]
        )
        results = [r["ok"] for r in out]
        total = procs * per_worker
        elapsed = max(r["done"] for r in results) - min(r["started"] for r in results)
        print(
            f"\n{procs} writers x {per_worker} commits on {db_url.split(':')[0]}: {total} commits "
            f"in {elapsed:.1f} s = {total / elapsed:.1f} commits/s"
        )
        assert sorted(i for r in results for i in r["indices"]) == list(range(total))
        for r in results:
            assert r["indices"] == sorted(r["indices"])
        with Registry(db_url, store, home=str(tmp_path / "check")) as reg:
            versions = reg.versions("heavy-ds")
            assert [v.index for v in versions] == list(range(total))
            got = Counter((v.metadata["worker"], v.metadata["i"]) for v in versions)
            assert set(got.values()) == {1} and len(got) == total
            for alias in ("production", "staging"):
                holders = [v.index for v in versions if alias in v.aliases]
                assert len(holders) == 1, (alias, holders)
            assert reg.get("heavy-ds:latest").index == total - 1
        # every version verifies: downloaded and checked by a few of the pool's processes at
        # once (the machine's cores), not one after the other here
        refs = [v.ref for v in versions]
        chunks = [
            (db_url, store, str(tmp_path / "check"), refs[k::4], str(tmp_path / "dl"))
            for k in range(4)
        ]
        checked = pool.starmap(workers.verify_versions, chunks)
    failed = [r for r in checked if "error" in r]
    assert not failed, "\n\n".join(r["trace"] for r in failed)
    assert sum(r["ok"] for r in checked) == total
