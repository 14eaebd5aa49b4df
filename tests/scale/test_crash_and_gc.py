"""A writer SIGKILLed in the middle of a log leaves no visible partial version and no corrupt
blob; gc removes what it left behind (and stale PENDING collaborative versions) but never a blob
that a live version, a pending upload within its grace period, or a linked version needs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from artiflow import Artifact, Registry
from artiflow.hashing import hash_file

HERE = Path(__file__).parent


def _make_source(root: Path, big_mb: int, small: int) -> Path:
    src = root / "src"
    (src / "small").mkdir(parents=True)
    with open(src / "big.bin", "wb") as fh:
        for _ in range(big_mb):
            fh.write(os.urandom(1024 * 1024))
    for i in range(small):
        (src / "small" / f"{i:04d}.txt").write_text(f"row {i}\n")
    return src


def _kill_mid_log(db_url: str, store_url: str, home: Path, src: Path, slow: float) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    code = "import sys, _scale_workers as w; w.crash_child(*sys.argv[1:5], float(sys.argv[5]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, db_url, store_url, str(home), str(src), str(slow)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line != "STARTED\n":
        proc.kill()
        raise AssertionError(
            f"writer did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return rest


@pytest.fixture(params=["local+sqlite", "s3+postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "local+sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "objects")
    db = request.getfixturevalue("pg_url")
    bucket = request.getfixturevalue("s3_bucket")
    return db, f"s3://{bucket}/objects"


def test_sigkill_mid_log_leaves_no_partial_version(shared: tuple[str, str], tmp_path: Path) -> None:
    db_url, store_url = shared
    with Registry(db_url, store_url, home=str(tmp_path / "home0")) as reg:
        first = Artifact("crash-ds", type="dataset")
        with first.new_file("a.txt") as fh:
            fh.write("v0")
        v0 = reg.log(first, aliases=["production"])
    src = _make_source(tmp_path, big_mb=48, small=150)
    rest = _kill_mid_log(db_url, store_url, tmp_path / "home1", src, slow=0.05)
    assert "COMMITTED" not in rest, "the writer finished before it was killed; slow it down"
    if store_url.startswith("s3://"):  # killed inside the multipart upload of the big file
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        bucket = store_url[len("s3://") :].split("/")[0]
        uploads = fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
        big = hash_file(src / "big.bin")[0]
        assert uploads or not fs.exists(f"{bucket}/objects/{big[:2]}/{big[2:]}")

    with Registry(db_url, store_url, home=str(tmp_path / "home2")) as reg:
        # nothing of the killed log is visible
        assert [v.version for v in reg.versions("crash-ds")] == ["v0"]
        assert reg.get("crash-ds:latest").version == "v0"
        assert reg.get("crash-ds:production").digest == v0.digest
        # every blob in the store is whole: a killed upload never leaves a partial blob
        store = reg.store
        for digest, _ in store.iter_blobs():
            store.get_file(digest, tmp_path / "check" / digest)
        # the same log now succeeds, with the next index
        art = Artifact("crash-ds", type="dataset")
        art.add_dir(src)
        v1 = reg.log(art)
        assert v1.version == "v1"
        root = v1.download(tmp_path / "out")
        v1.verify(root)
        assert hash_file(root / "big.bin") == hash_file(src / "big.bin")
        # gc with no grace removes what the killed writer left (temp files, orphan blobs)
        result = reg.gc(grace_seconds=0)
        needed = {e.digest for v in reg.versions("crash-ds") for e in v.files()}
        assert {d for d, _ in store.iter_blobs()} == needed
        assert not set(result.blobs) & needed
        if store.is_local:
            assert not list((Path(store_url) / "tmp").glob("*"))
        else:  # the killed writer's unfinished multipart upload is aborted
            bucket = store_url[len("s3://") :].split("/")[0]
            assert not store.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads")
        reg.get("crash-ds:v0").download(tmp_path / "v0")


def _age(store_root: Path, digests: set[str], seconds: float) -> None:
    old = time.time() - seconds
    for d in digests:
        os.utime(store_root / d[:2] / d[2:], (old, old))


def test_gc_keeps_live_linked_and_fresh_pending(db_url: str, tmp_path: Path) -> None:
    store_root = tmp_path / "objects"
    with Registry(db_url, str(store_root), home=str(tmp_path)) as reg:

        def log(name: str, text: str) -> tuple[str, str]:
            art = Artifact(name, type="model")
            with art.new_file("w.txt") as fh:
                fh.write(text)
            v = reg.log(art)
            return v.ref, v.get_path("w.txt").digest or ""

        live_ref, live_blob = log("live", "live weights")
        dead_ref, dead_blob = log("dead", "dead weights")
        linked_ref, linked_blob = log("linked", "linked weights")
        reg.link(linked_ref, "model-registry/churn", aliases=["production"])
        reg.get(dead_ref).delete()
        reg.get(linked_ref).delete()  # deleted at the source, still linked in the registry
        part = Artifact("shards", type="dataset")
        with part.new_file("p0.txt") as fh:
            fh.write("pending part")
        reg.upsert(part, distributed_id="never-finished")
        pending_blob = reg.store.put_bytes(b"pending part")
        in_flight = reg.store.put_bytes(b"uploaded by a writer that has not committed yet")
        everything = {live_blob, dead_blob, linked_blob, pending_blob}
        _age(store_root, everything, 7200)  # old enough for a one-hour grace

        # the dead version was deleted just now: a writer may be re-using its blob, keep it
        assert reg.gc(grace_seconds=3600).blobs == []
        with reg.catalog.engine.begin() as conn:  # ... until its deletion is older than grace
            conn.execute(
                text("UPDATE versions SET deleted_at = :at WHERE deleted_at IS NOT NULL"),
                {"at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)},
            )

        dry = reg.gc(dry_run=True, grace_seconds=3600)
        assert set(dry.blobs) == {dead_blob} and dry.dry_run
        assert reg.store.exists(dead_blob)

        result = reg.gc(grace_seconds=3600)
        assert set(result.blobs) == {dead_blob}
        assert result.pending_removed == 0  # the upsert is younger than the grace period
        for d in (live_blob, linked_blob, pending_blob, in_flight):
            assert reg.store.exists(d), d
        member = reg.get("model-registry/churn:production")
        member.download(tmp_path / "member")
        member.verify(tmp_path / "member")

        # past the grace period: the stale PENDING version goes, then its blob and the orphan
        result = reg.gc(grace_seconds=0)
        assert result.pending_removed == 1
        assert {pending_blob, in_flight} <= set(result.blobs)
        assert reg.store.exists(live_blob) and reg.store.exists(linked_blob)
        assert {d for d, _ in reg.store.iter_blobs()} == {live_blob, linked_blob}
        reg.get(live_ref).download(tmp_path / "live")


def test_gc_on_s3_store(s3_bucket: str, tmp_path: Path) -> None:
    with Registry(
        f"sqlite:///{tmp_path / 'r.db'}", f"s3://{s3_bucket}/objects", home=str(tmp_path)
    ) as reg:
        keep = Artifact("keep", type="dataset")
        with keep.new_file("k.txt") as fh:
            fh.write("keep me")
        kept = reg.log(keep)
        drop = Artifact("drop", type="dataset")
        with drop.new_file("d.txt") as fh:
            fh.write("drop me")
        reg.log(drop).delete()
        orphan = reg.store.put_bytes(b"fresh upload, not committed yet")
        assert reg.gc(grace_seconds=3600).blobs == []  # everything is younger than the grace
        result = reg.gc(grace_seconds=0)
        assert orphan in result.blobs and len(result.blobs) == 2
        assert result.bytes_freed > 0
        assert {d for d, _ in reg.store.iter_blobs()} == {kept.get_path("k.txt").digest}
