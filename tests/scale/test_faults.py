"""Faults with real services: a PostgreSQL server restarted under concurrent writers, a
connection dropped after COMMIT was sent, an S3 endpoint that cuts connections mid-upload, a
store whose disk fills up. Afterwards no version is lost, duplicated or half-visible.

The PostgreSQL tests start a server of their own (``own_postgres``: initdb in a temporary
folder, as user ``postgres``) and restart THAT one; the machine's shared server is never
touched. Under ``CI`` they fail when they cannot start it, and the disk tests fail when they
cannot mount a small file system.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _scale_workers as workers
import pytest
from _scale_services import OwnPostgres, _Proxy

from artiflow import Artifact, Registry
from artiflow.exceptions import StoreError


def _check_versions(reg: Registry, name: str, expected: set[tuple[int, int]], tmp: Path) -> None:
    """Every logged (worker, item) is in exactly one committed version, indices are exactly
    0..N-1, and every version's content verifies."""
    versions = reg.versions(name)
    assert [v.index for v in versions] == list(range(len(expected)))
    got = Counter((v.metadata["worker"], v.metadata["i"]) for v in versions)
    assert set(got) == expected, "a version was lost or appeared from nowhere"
    assert max(got.values()) == 1, f"duplicated: {[k for k, n in got.items() if n > 1]}"
    for v in versions:
        root = v.download(tmp / "dl" / v.version)
        v.verify(root)
        w, i = v.metadata["worker"], v.metadata["i"]
        assert (root / "data.txt").read_text() == f"worker {w} item {i}\n"


# ---- PostgreSQL restarted while writers log ------------------------------------------------
@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_under_concurrent_writers(
    own_postgres: OwnPostgres, tmp_path: Path, mode: str
) -> None:
    """Four writer processes log 25 versions each; the server is restarted twice while they
    do (``pg_ctl restart -m fast``: sessions terminated; ``-m immediate``: a crash and
    recovery). Writers ride it out (commits are retried whole; a COMMIT whose answer was lost
    is looked up, never repeated); afterwards every version is there exactly once and
    verifies."""
    url = own_postgres.new_database()
    store = str(tmp_path / "objects")
    procs, per_worker, name = 4, 25, "restart-ds"
    with Registry(url, store, home=str(tmp_path / "setup")) as reg:  # the schema, up front
        assert reg.collections() == []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pending = [
            pool.apply_async(
                workers.log_through_faults,
                (url, store, str(tmp_path / "home"), w, per_worker, name),
            )
            for w in range(procs)
        ]
        restarts = 0
        with Registry(url, store, home=str(tmp_path / "watch")) as watch:
            for at_least in (procs * per_worker // 5, procs * per_worker // 2):
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    with contextlib.suppress(StoreError, LookupError):
                        if len(watch.versions(name)) >= at_least:
                            break
                    time.sleep(0.05)
                own_postgres.restart(mode)
                restarts += 1
        out = [r.get(timeout=400) for r in pending]
    errors = [r for r in out if "error" in r]
    assert not errors, "\n\n".join(r["trace"] for r in errors)
    results = [r["ok"] for r in out]
    indices = sorted(i for r in results for i in r["indices"])
    assert indices == list(range(procs * per_worker))
    surfaced = [s for r in results for s in r["surfaced"]]
    print(f"\n{restarts} restarts ({mode}); StoreErrors that reached a writer: {surfaced}")
    with Registry(url, store, home=str(tmp_path / "check")) as reg:
        expected = {(w, i) for w in range(procs) for i in range(per_worker)}
        _check_versions(reg, name, expected, tmp_path)


def test_commit_whose_answer_is_lost_is_not_repeated(
    own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    """The connection drops right after the server carried out COMMIT, before the client got
    its answer (a proxy swallows the reply). The commit landed: artiflow looks it up and
    returns that version instead of committing it a second time."""
    url = own_postgres.new_database()
    proxy = _Proxy(own_postgres.port, swallow_reply_to=b"Q\x00\x00\x00\x0bCOMMIT\x00")
    via_proxy = url.replace(f":{own_postgres.port}/", f":{proxy.port}/")
    store = str(tmp_path / "objects")
    try:
        with Registry(via_proxy, store, home=str(tmp_path / "home")) as reg:
            first = _log_text(reg, "lost-ds", "zero", worker=0, i=0)
            proxy.swallow_left = 1  # the next COMMIT's answer is lost
            second = _log_text(reg, "lost-ds", "one", worker=0, i=1)
            assert proxy.swallowed == 1
            proxy.swallow_left = 1
            third = _log_text(reg, "lost-ds", "zero", worker=0, i=2)  # same content as v0
            assert proxy.swallowed == 2
            assert (first.index, second.index, third.index) == (0, 1, 2)
            versions = reg.versions("lost-ds")
            assert [v.index for v in versions] == [0, 1, 2]
            assert reg.get("lost-ds:latest").index == 2
            for v in versions:
                v.verify(v.download(tmp_path / "dl" / v.version))
    finally:
        proxy.close()


def _log_text(reg: Registry, name: str, text: str, *, worker: int, i: int) -> Any:
    art = Artifact(name, type="dataset", metadata={"worker": worker, "i": i})
    with art.new_file("data.txt") as fh:
        fh.write(text)
    return reg.log(art)


def test_unreachable_database_is_a_clear_retryable_store_error(
    own_postgres: OwnPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that stays away longer than ``ARTIFLOW_DB_RETRY_SECONDS``: the writer gets a
    StoreError naming the database, saying nothing was written and to retry; once the server
    is back, the same registry object logs again."""
    url = own_postgres.new_database()
    proxy = _Proxy(own_postgres.port)
    via_proxy = url.replace(f":{own_postgres.port}/", f":{proxy.port}/")
    with Registry(via_proxy, str(tmp_path / "objects"), home=str(tmp_path / "home")) as reg:
        _log_text(reg, "away-ds", "zero", worker=0, i=0)
        monkeypatch.setenv("ARTIFLOW_DB_RETRY_SECONDS", "1")
        port = proxy.port
        proxy.close()  # the database is gone: connections are refused
        reg.catalog.engine.dispose()
        with pytest.raises(StoreError, match="unavailable.*nothing was written.*[Rr]etry"):
            _log_text(reg, "away-ds", "one", worker=0, i=1)
        back = _Proxy(own_postgres.port, port=port)  # the server is back, at the same address
        try:
            assert _log_text(reg, "away-ds", "one", worker=0, i=1).index == 1
        finally:
            back.close()
        assert [v.index for v in reg.versions("away-ds")] == [0, 1]


# ---- the disk of a local store (or of the SQLite catalog) fills up ---------------------------
@contextlib.contextmanager
def _small_fs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A small file system of its own at ``where``: tmpfs, or a loop-mounted ext4 image when
    tmpfs cannot be mounted. Skips when neither can (not root); under ``CI`` fails instead."""
    where.mkdir(parents=True)
    image = where.parent / f"{where.name}.img"
    tried = []
    for cmd in (
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        [
            "sh",
            "-c",
            f"truncate -s {size} {image} && mkfs.ext4 -q -m 0 {image} && "
            f"mount -o loop {image} {where}",
        ],
    ):
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode == 0:
            break
        tried.append(f"{' '.join(cmd)}: {out.stderr.strip()}")
    else:
        msg = "cannot mount a small file system: " + "; ".join(tried)
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI: the disk-full tests must run)")
        pytest.skip(msg)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        image.unlink(missing_ok=True)


def _fill(reg: Registry, name: str, size: int) -> tuple[list[Any], StoreError]:
    """Log versions of ``size`` fresh bytes each until the store's disk is full."""
    logged = []
    for i in range(100):
        art = Artifact(name, type="dataset", metadata={"i": i})
        with art.new_file("blob.bin", mode="wb") as fh:
            fh.write(os.urandom(size))
        try:
            logged.append(reg.log(art))
        except StoreError as exc:
            return logged, exc
    raise AssertionError("the small file system never filled up")


def _leftovers(store: Path) -> list[str]:
    tmp = store / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


@pytest.mark.parametrize("size", [300 * 1024, 1536 * 1024], ids=["small-blobs", "big-blobs"])
def test_full_store_disk_is_a_clear_store_error(tmp_path: Path, size: int) -> None:
    """The store's disk fills up: the log that does not fit raises a StoreError that names the
    store, says the disk is full and what to do; nothing of it is visible (no version, no
    temporary file); the registry still opens; deleting versions and ``gc`` make room, and
    logging works again."""
    with _small_fs(tmp_path / "disk", "4m") as disk:
        store = disk / "objects"
        db = f"sqlite:///{tmp_path / 'registry.db'}"
        with Registry(db, str(store), home=str(tmp_path / "home")) as reg:
            logged, err = _fill(reg, "full-ds", size)
            assert logged, "not even one version fitted"
            msg = str(err)
            assert str(store) in msg and "disk that holds the store is full" in msg
            assert "artiflow gc" in msg and isinstance(err, OSError)
            assert _leftovers(store) == []  # no debris of the failed write on a full disk
            assert [v.index for v in reg.versions("full-ds")] == [v.index for v in logged]
            assert reg.get("full-ds:latest").index == logged[-1].index
        with Registry(db, str(store), home=str(tmp_path / "home2")) as reg:  # still opens
            for v in reg.versions("full-ds"):
                v.verify(v.download(tmp_path / "dl" / v.version))
            for v in reg.versions("full-ds")[:-1]:
                v.delete()
            result = reg.gc(grace_seconds=0)
            assert result.blobs_deleted == len(logged) - 1
            assert _leftovers(store) == []
            art = Artifact("full-ds", type="dataset")
            with art.new_file("blob.bin", mode="wb") as fh:
                fh.write(os.urandom(size))
            after = reg.log(art)
            assert after.index == logged[-1].index + 1
            after.verify(after.download(tmp_path / "dl-after"))


def test_full_catalog_disk_is_a_clear_store_error(tmp_path: Path) -> None:
    """The disk that holds the SQLite catalog fills up: the commit that does not fit raises a
    StoreError naming the database and saying to free space; nothing of it is visible; the
    registry still opens and reads; with space again, logging goes on."""
    with _small_fs(tmp_path / "disk", "2m") as disk:
        db = f"sqlite:///{disk / 'registry.db'}"
        store = str(tmp_path / "objects")
        with Registry(db, store, home=str(tmp_path / "home")) as reg:
            first = _log_text(reg, "db-full-ds", "zero", worker=0, i=0)
            filler = disk / "filler"
            with open(filler, "wb") as fh, contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            big = {"worker": 0, "i": 1, "pad": "x" * 200_000}
            art = Artifact("db-full-ds", type="dataset", metadata=big)
            with art.new_file("data.txt") as fh:
                fh.write("one")
            with pytest.raises(StoreError, match="(?s)catalog database.*full.*free space"):
                reg.log(art)
            assert [v.index for v in reg.versions("db-full-ds")] == [first.index]
        with Registry(db, store, home=str(tmp_path / "home2")) as reg:  # opens on a full disk
            assert [v.index for v in reg.versions("db-full-ds")] == [0]
            filler.unlink()
            assert _log_text(reg, "db-full-ds", "one", worker=0, i=1).index == 1


# ---- an S3 endpoint that drops connections mid-upload ----------------------------------------
def _bucket_objects(s3: Any, bucket: str) -> dict[str, int]:
    return {
        p: int(info["size"]) for p, info in s3.find(bucket, detail=True).items() if "/tmp/" not in p
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("faults", ["random", "burst"])
def test_s3_connections_cut_mid_upload(
    s3_bucket: str,
    flaky_s3_proxy: _Proxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    faults: str,
) -> None:
    """A proxy between s3fs and the moto server cuts connections in the middle of requests
    (uploads included): at random (1 % of the chunks sent), or every request for a while (a
    burst of 40 cuts). Transfers retry (botocore's retries, then artiflow's around each
    upload), every logged version is complete, and every object in the bucket is whole (its content hashes
    to its name): nothing partial appears."""
    import s3fs

    from artiflow.hashing import hash_bytes

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{flaky_s3_proxy.port}")
    s3fs.S3FileSystem.clear_instance_cache()
    store = f"s3://{s3_bucket}/blobs"
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    flaky_s3_proxy.cut_rate = 0.01 if faults == "random" else 1.0
    flaky_s3_proxy.max_cuts = None if faults == "random" else 40
    logged = []
    with Registry(db, store, home=str(tmp_path / "home")) as reg:
        for i in range(6):
            art = Artifact("flaky-ds", type="dataset", metadata={"worker": 0, "i": i})
            for j in range(4):
                with art.new_file(f"part-{j}.bin", mode="wb") as fh:
                    fh.write(os.urandom(200_000 if j else 9 * 1024 * 1024 + i))
            logged.append(reg.log(art))
    cuts = flaky_s3_proxy.cuts
    flaky_s3_proxy.cut_rate = 0.0
    print(f"\nconnections cut: {cuts}")
    assert cuts > 0, "the proxy never cut a connection: the test tested nothing"
    direct = s3fs.S3FileSystem(
        skip_instance_cache=True,
        use_listings_cache=False,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DIRECT", "") or None,
    )
    with Registry(db, store, home=str(tmp_path / "check")) as reg:
        assert [v.index for v in reg.versions("flaky-ds")] == list(range(6))
        for v in reg.versions("flaky-ds"):
            v.verify(v.download(tmp_path / "dl" / v.version))
    for path in _bucket_objects(direct, s3_bucket):
        name = path.rsplit("/", 2)
        digest = name[-2] + name[-1]
        assert hash_bytes(direct.cat_file(path)) == digest, f"partial object {path}"
