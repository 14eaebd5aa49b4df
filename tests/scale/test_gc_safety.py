"""gc never deletes a blob that a committed version needs, whatever a concurrent writer does,
on local folders and on S3 (a moto server), over SQLite and PostgreSQL; and a collaborative
version gc collected can never be finished as a partial version.

The races are made deterministic with two real pauses: gc's ``before_delete`` hook (between its
scan and its deletes) and a writer's ``progress`` callback (between its store check and its
commit). Writers run in their own OS processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from artiflow import Artifact, ConflictError, Registry

HERE = Path(__file__).parent
GC = "gc-race"


@pytest.fixture(params=["local+sqlite", "local+postgres", "s3+sqlite", "s3+postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """``(db_url, store_url)`` of a registry shared by several processes."""
    store, db = request.param.split("+")
    db_url = (
        f"sqlite:///{tmp_path / 'registry.db'}"
        if db == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    if store == "local":
        return db_url, str(tmp_path / "objects")
    return db_url, f"s3://{request.getfixturevalue('s3_bucket')}/objects"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}


def _spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "_gc_workers.py"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        text=True,
    )


def _result(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, object]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"writer failed:\n{err}"
    return dict(json.loads(out.strip().splitlines()[-1]))


def _dead_blob(reg: Registry, content: str) -> str:
    """Log ``content`` and delete the version: its blob is unreferenced, a gc candidate."""
    art = Artifact(GC, type="dataset")
    with art.new_file("a.txt") as fh:
        fh.write(content)
    v = reg.log(art)
    digest = v.get_path("a.txt").digest or ""
    v.delete()
    return digest


def _assert_whole(reg: Registry, ref: str, out: Path) -> None:
    v = reg.get(ref)
    assert v.state == "COMMITTED"
    assert not reg.store.missing({e.digest for e in v.files() if e.digest}), f"{ref} lost a blob"
    root = v.download(out)
    v.verify(root)


def test_relog_committed_while_gc_is_between_scan_and_delete(
    shared: tuple[str, str], tmp_path: Path
) -> None:
    db_url, store_url = shared
    content = "weights that come back\n" * 20
    with Registry(db_url, store_url, home=str(tmp_path / "gc-home")) as reg:
        blob = _dead_blob(reg, content)
        seen: dict[str, object] = {}

        def relog_now(candidates: list[str]) -> None:
            assert blob in candidates  # gc's scan decided to delete it ...
            # ... and another process re-logs that content and commits before gc deletes
            seen.update(_result(_spawn("relog", db_url, store_url, tmp_path / "w", GC, content)))

        result = reg.gc(grace_seconds=0, before_delete=relog_now)
        assert seen["digest"] == blob
        assert blob not in result.blobs and result.kept >= 1
        _assert_whole(reg, str(seen["ref"]), tmp_path / "out")


def test_writer_that_saw_the_blob_before_gc_deleted_it_uploads_it_again(
    shared: tuple[str, str], tmp_path: Path
) -> None:
    db_url, store_url = shared
    content = "weights that come back\n" * 20
    ready, go = tmp_path / "ready", tmp_path / "go"
    with Registry(db_url, store_url, home=str(tmp_path / "gc-home")) as reg:
        blob = _dead_blob(reg, content)
        writer = _spawn("paused_relog", db_url, store_url, tmp_path / "w", GC, content, ready, go)
        deadline = time.monotonic() + 60
        while not ready.exists():  # the writer found the blob in the store and skipped it
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline, "the writer never reached its pause"
            time.sleep(0.02)
        result = reg.gc(grace_seconds=0)  # nothing references the blob: gc deletes it
        assert blob in result.blobs and not reg.store.exists(blob)
        go.touch()  # the writer commits now
        seen = _result(writer)
        assert seen["paused"] and seen["digest"] == blob
        _assert_whole(reg, str(seen["ref"]), tmp_path / "out")


def test_stress_gc_against_writers_loses_no_blob(
    shared: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url, store_url = shared
    seconds = 10.0 if store_url.startswith("/") else 6.0
    with Registry(db_url, store_url, home=str(tmp_path / "gc-home")) as reg:
        _ = reg.catalog  # migrate once, before the writers start
        writers = [
            _spawn("stress_writer", db_url, store_url, tmp_path / f"w{i}", i, seconds)
            for i in range(3)
        ]
        runs = deleted = kept = 0
        while any(w.poll() is None for w in writers):
            result = reg.gc(grace_seconds=0)
            runs += 1
            deleted += result.blobs_deleted
            kept += result.kept
        results = [_result(w) for w in writers]
        commits = sum(int(str(r["commits"])) for r in results)
        lost = sum(int(str(r["lost"])) for r in results)
        live = [v for i in range(3) for v in reg.versions(f"stress-{i}")]
        for v in live:  # the versions still alive at the end are whole too
            assert not reg.store.missing({e.digest for e in v.files() if e.digest}), v.ref
        with capsys.disabled():
            print(
                f"\n[gc stress {db_url.split(':')[0]} {'s3' if store_url.startswith('s3') else 'local'}] "
                f"{seconds:.0f}s: "
                f"{commits} commits by 3 writers, {runs} gc runs, {deleted} blobs deleted, "
                f"{kept} kept (taken into use during gc), {lost} lost"
            )
        assert lost == 0, [r["lost_refs"] for r in results]
        assert commits >= 10 and runs > 3 and deleted > 0


# ---- collaborative versions --------------------------------------------------------------
def _part(i: int) -> Artifact:
    art = Artifact("shards", type="dataset")
    with art.new_file(f"part-{i}.csv") as fh:
        fh.write(f"rows of part {i}\n")
    return art


def test_pending_version_ages_by_its_last_upsert(db_url: str, tmp_path: Path) -> None:
    with Registry(db_url, str(tmp_path / "objects"), home=str(tmp_path)) as reg:
        reg.upsert(_part(0), distributed_id="run-7")
        with reg.catalog.engine.begin() as conn:  # the version was created two hours ago ...
            conn.execute(
                text("UPDATE versions SET created_at = :at WHERE state = 'PENDING'"),
                {"at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)},
            )
        reg.upsert(_part(1), distributed_id="run-7")  # ... but a part was added just now
        assert reg.gc(grace_seconds=3600).pending_removed == 0
        reg.upsert(_part(2), distributed_id="run-7")
        v = reg.finish(_part(3), distributed_id="run-7")
        assert sorted(v.manifest.entries) == [f"part-{i}.csv" for i in range(4)]
        _assert_whole(reg, v.ref, tmp_path / "out")


def test_finish_of_a_collected_pending_version_raises(db_url: str, tmp_path: Path) -> None:
    with Registry(db_url, str(tmp_path / "objects"), home=str(tmp_path)) as reg:
        reg.upsert(_part(0), distributed_id="run-8")
        reg.upsert(_part(1), distributed_id="run-8")
        assert reg.gc(grace_seconds=0).pending_removed == 1  # no upsert within the grace
        with pytest.raises(ConflictError, match="run-8"):
            reg.upsert(_part(2), distributed_id="run-8")
        with pytest.raises(ConflictError, match="run-8.*removed by gc"):
            reg.finish(_part(3), distributed_id="run-8")
        assert reg.versions("shards") == []  # no partial version, ever
        # a new distributed id works
        for i in range(3):
            reg.upsert(_part(i), distributed_id="run-8b")
        v = reg.finish(_part(3), distributed_id="run-8b")
        assert len(v.manifest.entries) == 4
