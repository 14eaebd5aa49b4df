"""Corrupt and missing blobs (issue 11, items 3-6): every kind of damage is detected on read and
never handed out, a read never deletes (it moves the blob aside into ``quarantine/``), re-logging
the original content repairs the store, and ``fsck`` reports and repairs. On the local store and
on S3 (a real moto server); the web download through the real app on a real HTTP server."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry, StoreError, VerificationError
from artiflow.store import QUARANTINE, BlobStore


def _load(name: str, folder: str) -> Any:
    """Another test folder's conftest, loaded by path (test folders are not packages)."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).parents[1] / folder / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the moto server fixtures of tests/scale
_scale = _load("_scale_fixtures", "scale")
moto_endpoint = _scale.moto_endpoint
s3_bucket = _scale.s3_bucket

KINDS = ["flip", "truncate", "replace", "append", "empty", "missing"]
SIZE_CHANGING = ["truncate", "append", "empty", "missing"]
SMALL = b"station,minutes\n" + b"1,12\n" * 2000  # 10 KiB: the one-read small-file path
BIG = bytes(range(256)) * (6 * 1024)  # 1.5 MiB: the streamed path


def damaged(data: bytes, kind: str) -> bytes | None:
    """``data`` after ``kind`` of damage (None: the blob is gone)."""
    if kind == "flip":
        out = bytearray(data)
        out[len(out) // 2] ^= 0x01
        return bytes(out)
    if kind == "truncate":
        return data[: len(data) // 2]
    if kind == "replace":  # same size, other content
        return bytes((b + 1) % 256 for b in data)
    if kind == "append":
        return data + b"!"
    if kind == "empty":
        return b""
    assert kind == "missing"
    return None


def damage(store: BlobStore, digest: str, data: bytes, kind: str) -> bytes | None:
    """Damage the stored blob behind the store's back; returns what it holds now."""
    bad = damaged(data, kind)
    if store.is_local:
        path = store.path(digest)
        if bad is None:
            os.unlink(path)
        else:
            os.chmod(path, 0o644)
            with open(path, "r+b") as fh:  # in place: the same file, as bit rot would
                fh.write(bad)
                fh.truncate(len(bad))
    elif bad is None:
        store.fs.rm_file(store.path(digest))
    else:
        store.fs.pipe_file(store.path(digest), bad)
    return bad


def expected_error(kind: str) -> type[Exception]:
    return StoreError if kind == "missing" else VerificationError


def log_files(reg: Registry, folder: Path, name: str = "ds") -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_bytes(SMALL)
    (folder / "big.bin").write_bytes(BIG)
    art = Artifact(name)
    art.add_dir(folder)
    return reg.log(art)


def relog(reg: Registry, folder: Path, name: str = "ds") -> Any:
    art = Artifact(name)
    art.add_dir(folder)
    return reg.log(art)


def damage_both(reg: Registry, v: Any, kind: str) -> None:
    for path, data in (("a.csv", SMALL), ("big.bin", BIG)):
        damage(reg.store, v.get_path(path).digest, data, kind)


def assert_intact(v: Any, out: Path) -> None:
    root = v.download(out)
    assert (root / "a.csv").read_bytes() == SMALL
    assert (root / "big.bin").read_bytes() == BIG
    v.verify(root)


def quarantine_files(store: BlobStore) -> dict[str, bytes]:
    folder = store.root / QUARANTINE
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# ---- item 5: open().read(n) never hands out an unverified byte -------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [None, "1024"], ids=["spooled", "prechecked"])
def test_open_raises_before_handing_out_a_byte(
    registry: Registry, tmp_path: Path, kind: str, limit: str | None, monkeypatch: Any
) -> None:
    """Up to ARTIFLOW_VERIFY_SPOOL_BYTES the file is spooled and verified; above it (the
    limit set to 1 KiB here) it is hashed whole before the first byte: either way a damaged
    blob raises before any byte is handed out."""
    if limit is not None:
        monkeypatch.setenv("ARTIFLOW_VERIFY_SPOOL_BYTES", limit)
    v = log_files(registry, tmp_path / "data")
    damage_both(registry, v, kind)
    for path in ("a.csv", "big.bin"):
        got: list[bytes] = []
        with pytest.raises(expected_error(kind)), v.open(path) as fh:
            got.append(fh.read(10))
        assert got == []


def test_open_serves_the_verified_content(registry: Registry, tmp_path: Path, monkeypatch: Any):
    v = log_files(registry, tmp_path / "data")
    for limit in ("", "1024"):
        monkeypatch.setenv("ARTIFLOW_VERIFY_SPOOL_BYTES", limit)
        with v.open("big.bin") as fh:
            assert fh.read(10) == BIG[:10]
            assert fh.read() == BIG[10:]
        with v.open("a.csv") as fh:
            assert fh.read() == SMALL
    monkeypatch.setenv("ARTIFLOW_VERIFY_SPOOL_BYTES", "lots")
    with pytest.raises(ValueError, match="ARTIFLOW_VERIFY_SPOOL_BYTES"):
        v.open("a.csv")


def test_spooled_stream_is_immune_to_later_damage(registry: Registry, tmp_path: Path) -> None:
    """Under the limit, what is read is the verified private copy: damage after open() does
    not reach the reader."""
    v = log_files(registry, tmp_path / "data")
    with v.open("big.bin") as fh:
        damage(registry.store, v.get_path("big.bin").digest, BIG, "flip")
        assert fh.read() == BIG


def test_above_the_limit_a_change_after_the_check_is_reported_at_the_end(
    registry: Registry, tmp_path: Path, monkeypatch: Any
) -> None:
    """What is guaranteed above the limit, exactly: the blob hashed right once just before the
    first byte; if the stored file is rewritten in place between that check and the read, the
    bytes read can differ and the end of the stream raises (they must not be used)."""
    monkeypatch.setenv("ARTIFLOW_VERIFY_SPOOL_BYTES", "1024")
    v = log_files(registry, tmp_path / "data")
    fh = v.open("big.bin")
    damage(registry.store, v.get_path("big.bin").digest, BIG, "flip")
    with pytest.raises(VerificationError, match="changed while it was read"):
        fh.read()
    fh.close()


# ---- item 3: re-logging the original content repairs the store ------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_relog_after_a_failed_read_repairs(registry: Registry, tmp_path: Path, kind: str) -> None:
    """The error says to re-log; re-logging (unchanged files: the no-op path that returns
    ``latest``) must then bring the content back."""
    v = log_files(registry, tmp_path / "data")
    damage_both(registry, v, kind)
    for path in ("a.csv", "big.bin"):
        with pytest.raises(expected_error(kind), match="(?i)re-log"), v.open(path) as fh:
            fh.read(1)
    again = relog(registry, tmp_path / "data")
    assert again.version == "v0"  # no new version: the same content
    assert_intact(registry.get("ds:v0"), tmp_path / "out")


@pytest.mark.parametrize("kind", KINDS)
def test_relog_after_a_failed_download_repairs(
    registry: Registry, tmp_path: Path, kind: str
) -> None:
    """Downloads (the copy primitives) move a corrupt blob aside too."""
    for path, data in (("a.csv", SMALL), ("big.bin", BIG)):
        folder = tmp_path / f"data-{path}"
        folder.mkdir()
        (folder / path).write_bytes(data)
        art = Artifact(f"one-{path.split('.')[0]}")
        art.add_dir(folder)
        v = registry.log(art)
        damage(registry.store, v.get_path(path).digest, data, kind)
        with pytest.raises(expected_error(kind)):
            v.download(tmp_path / f"out-{path}")
        assert not (tmp_path / f"out-{path}").exists()
        art = Artifact(v.collection)
        art.add_dir(folder)
        assert registry.log(art).version == "v0"
        assert (v.download(tmp_path / f"ok-{path}") / path).read_bytes() == data


@pytest.mark.parametrize("kind", SIZE_CHANGING)
@pytest.mark.parametrize("where", ["latest", "other-collection"])
def test_relog_repairs_size_damage_without_any_read(
    registry: Registry, tmp_path: Path, kind: str, where: str
) -> None:
    """A blob of the wrong size (or none) is noticed by the stat a re-log makes anyway: on the
    no-op path (content equal to ``latest``) and on the regular path alike."""
    v = log_files(registry, tmp_path / "data")
    damage_both(registry, v, kind)
    name = "ds" if where == "latest" else "copy"
    relog(registry, tmp_path / "data", name=name)
    assert_intact(v, tmp_path / "out")


def test_read_moves_a_corrupt_local_blob_aside_never_deletes(
    registry: Registry, tmp_path: Path
) -> None:
    v = log_files(registry, tmp_path / "data")
    digest = v.get_path("a.csv").digest
    bad = damage(registry.store, digest, SMALL, "flip")
    with pytest.raises(VerificationError, match="moved aside"):
        v.open("a.csv")
    assert not registry.store.exists(digest)
    kept = quarantine_files(registry.store)
    assert list(kept.values()) == [bad] and next(iter(kept)).startswith(digest + ".")
    assert digest not in {d for d, _ in registry.store.iter_blobs()}  # gc never looks there


def test_a_transient_bad_read_changes_nothing(registry: Registry, tmp_path: Path) -> None:
    """A read that hashed wrong once but verifies on the second read (a transient fault) moves
    nothing and says to try again."""
    v = log_files(registry, tmp_path / "data")
    digest = v.get_path("a.csv").digest
    err = registry.store._corrupt(digest, "ff" * 32)  # as if the first read had been garbled
    assert isinstance(err, StoreError) and "transient" in str(err)
    assert registry.store.read_bytes(digest) == SMALL
    assert quarantine_files(registry.store) == {}


# ---- item 3: fsck ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_fsck_reports_the_versions_a_blob_breaks(
    registry: Registry, tmp_path: Path, kind: str
) -> None:
    v = log_files(registry, tmp_path / "data")
    log_files(registry, tmp_path / "data", name="copy")  # the same blobs, another collection
    digest = v.get_path("a.csv").digest
    bad = damage(registry.store, digest, SMALL, kind)
    result = registry.fsck(repair=False)
    assert not result.ok and result.checked == 2 == result.total
    (problem,) = result.problems
    assert problem.digest == digest and problem.size == len(SMALL) and not problem.repaired
    assert problem.kind == ("missing" if kind == "missing" else "corrupt")
    assert [(b.ref, b.path) for b in problem.versions] == [
        ("default/copy:v0", "a.csv"),
        ("default/ds:v0", "a.csv"),
    ]
    if bad is not None:  # --no-repair changes nothing
        assert Path(registry.store.path(digest)).read_bytes() == bad
        assert problem.found_size == len(bad)
    assert quarantine_files(registry.store) == {}


@pytest.mark.parametrize("kind", KINDS)
def test_fsck_repairs_from_another_store(registry: Registry, tmp_path: Path, kind: str) -> None:
    v = log_files(registry, tmp_path / "data")
    with Registry(home=tmp_path / "mirror") as mirror:
        log_files(mirror, tmp_path / "data")
        mirror_url = mirror.store.url
    damage_both(registry, v, kind)
    result = registry.fsck(sources=[mirror_url])
    assert len(result.problems) == 2
    assert all(p.repaired and p.repaired_from == mirror_url for p in result.problems)
    assert registry.fsck().ok
    assert_intact(v, tmp_path / "out")
    if kind != "missing":  # the damaged content was moved aside, not deleted
        assert len(quarantine_files(registry.store)) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_fsck_without_a_copy_moves_aside_then_relog_repairs(
    registry: Registry, tmp_path: Path, kind: str
) -> None:
    v = log_files(registry, tmp_path / "data")
    damage_both(registry, v, kind)
    result = registry.fsck()
    assert [p.repaired for p in result.problems] == [False, False]
    if kind != "missing":
        assert all(p.quarantined and os.path.exists(p.quarantined) for p in result.problems)
    relog(registry, tmp_path / "data")
    assert registry.fsck().ok
    assert_intact(v, tmp_path / "out")


def test_fsck_puts_back_a_quarantined_copy_that_verifies(
    registry: Registry, tmp_path: Path
) -> None:
    """A blob moved aside that is good after all (a fault judged it corrupt) is restored."""
    v = log_files(registry, tmp_path / "data")
    digest = v.get_path("big.bin").digest
    registry.store.quarantine(digest)
    (problem,) = registry.fsck().problems
    assert problem.kind == "missing" and problem.repaired_from == "quarantine"
    assert_intact(v, tmp_path / "out")


def test_fsck_sample(registry: Registry, tmp_path: Path) -> None:
    log_files(registry, tmp_path / "data")
    progress: list[int] = []
    one = registry.fsck(sample=1, progress=progress.append)
    assert (one.checked, one.total, one.sampled) == (1, 2, True)
    assert sum(progress) in (len(SMALL), len(BIG))
    assert registry.fsck(sample=0.5).checked == 1
    assert registry.fsck(sample="1.0").checked == 2
    for bad in (0, -1, 1.5, "many"):
        with pytest.raises(ValueError, match="sample"):
            registry.fsck(sample=bad)


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artiflow.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_fsck_json_and_exit_codes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Registry(home=home) as reg:
        v = log_files(reg, tmp_path / "data")
        digest = v.get_path("a.csv").digest
        clean = run_cli(home, "fsck", "--json")
        assert clean.returncode == 0, clean.stderr
        assert json.loads(clean.stdout) == {
            "ok": True,
            "checked": 2,
            "total": 2,
            "sampled": False,
            "repair": True,
            "bytes_checked": len(SMALL) + len(BIG),
            "repaired": 0,
            "unrepaired": 0,
            "problems": [],
        }
        damage(reg.store, digest, SMALL, "flip")
        found = run_cli(home, "fsck", "--no-repair", "--json", "--sample", "1.0")
        assert found.returncode == 1, found.stderr
        report = json.loads(found.stdout)
        assert report["ok"] is False and report["repair"] is False and report["unrepaired"] == 1
        (problem,) = report["problems"]
        assert problem["digest"] == digest and problem["kind"] == "corrupt"
        assert problem["versions"] == [
            {"ref": "default/ds:v0", "path": "a.csv", "state": "COMMITTED"}
        ]
        assert problem["quarantined"] is None and problem["repaired"] is False
        text = run_cli(home, "fsck")
        assert text.returncode == 1
        assert "corrupt blob" in text.stdout and "default/ds:v0 a.csv" in text.stdout
        assert "moved aside" in text.stdout
        bad = run_cli(home, "fsck", "--sample", "lots")
        assert bad.returncode == 2 and "sample" in bad.stderr


# ---- item 4: a read never deletes from a bucket ----------------------------------------------
@pytest.fixture
def s3_registry(s3_bucket: str, tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(home=tmp_path / "home", store_url=f"s3://{s3_bucket}/objects")
    yield reg
    reg.close()


def bucket_blob(reg: Registry, digest: str) -> bytes | None:
    try:
        return bytes(reg.store.fs.cat_file(reg.store.path(digest)))
    except FileNotFoundError:
        return None


def bucket_quarantine(reg: Registry) -> dict[str, bytes]:
    return {
        path.rsplit("/", 1)[-1]: bytes(reg.store.fs.cat_file(path))
        for paths in reg.store.quarantined().values()
        for path in paths
    }


@pytest.mark.parametrize("kind", KINDS)
def test_s3_read_keeps_the_bytes_and_relog_repairs(
    s3_registry: Registry, tmp_path: Path, kind: str
) -> None:
    reg = s3_registry
    v = log_files(reg, tmp_path / "data")
    digests = {p: v.get_path(p).digest for p in ("a.csv", "big.bin")}
    bad = {
        p: damage(reg.store, digests[p], d, kind) for p, d in (("a.csv", SMALL), ("big.bin", BIG))
    }
    with pytest.raises(expected_error(kind)):
        v.download(tmp_path / "out")
    for path in ("a.csv", "big.bin"):  # corrupt, or moved aside by the download: missing
        with pytest.raises((VerificationError, StoreError)):
            v.open(path)
    kept = bucket_quarantine(reg)
    for path, digest in digests.items():
        if bad[path] is None:
            continue
        # the reader moved the object aside: its bytes are all still in the bucket
        assert bucket_blob(reg, digest) in (bad[path], None)
        assert bad[path] in [data for name, data in kept.items() if name.startswith(digest)]
    again = relog(reg, tmp_path / "data")
    assert again.version == "v0"
    assert_intact(reg.get("ds:v0"), tmp_path / "ok")
    assert reg.fsck().ok


def test_s3_transient_bad_read_leaves_the_object(s3_registry: Registry, tmp_path: Path) -> None:
    v = log_files(s3_registry, tmp_path / "data")
    digest = v.get_path("a.csv").digest
    err = s3_registry.store._corrupt(digest, "ff" * 32)
    assert isinstance(err, StoreError) and "transient" in str(err)
    assert bucket_blob(s3_registry, digest) == SMALL and bucket_quarantine(s3_registry) == {}


@pytest.mark.parametrize("kind", ["flip", "missing"])
def test_s3_fsck_reports_and_repairs_from_the_download_cache(
    s3_registry: Registry, tmp_path: Path, kind: str
) -> None:
    reg = s3_registry
    v = log_files(reg, tmp_path / "data")
    v.download(tmp_path / "first")  # fills the local download cache
    damage_both(reg, v, kind)
    report = reg.fsck(repair=False)
    assert {p.kind for p in report.problems} == {"missing" if kind == "missing" else "corrupt"}
    assert all([b.ref for b in p.versions] == ["default/ds:v0"] for p in report.problems)
    fixed = reg.fsck()
    assert [p.repaired_from for p in fixed.problems] == ["cache", "cache"]
    assert bucket_blob(reg, v.get_path("a.csv").digest) == SMALL
    assert reg.fsck().ok


# ---- item 6: the web download sends no corrupt byte -----------------------------------------
serve = _load("_ui_fixtures", "ui").serve_in_thread  # uvicorn in a thread on a free port


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [None, "1048576"], ids=["spooled", "prechecked"])
def test_ui_download_of_a_damaged_file_sends_no_byte_of_it(
    registry: Registry, tmp_path: Path, kind: str, limit: str | None, monkeypatch: Any
) -> None:
    """2 MiB (over the old 1 MiB chunk, under the 64 MiB spool limit; and above a 1 MiB limit):
    the answer is a 502 with a JSON error, never a 200 with file bytes."""
    import httpx

    from artiflow.ui import create_app

    if limit is not None:
        monkeypatch.setenv("ARTIFLOW_VERIFY_SPOOL_BYTES", limit)
    data = os.urandom(2 * 1024 * 1024)
    art = Artifact("web")
    with art.new_file("two.bin", mode="wb") as f:
        f.write(data)
    v = registry.log(art)
    bad = damage(registry.store, v.get_path("two.bin").digest, data, kind)
    with (
        serve(create_app(registry)) as base,
        httpx.stream("GET", f"{base}api/versions/default/web/v0/files/two.bin") as r,
    ):
        body = r.read()
        assert r.status_code == 502
        assert r.headers["content-type"] == "application/json"
    assert len(body) < 2000 and json.loads(body)["error"] in ("VerificationError", "StoreError")
    if bad:
        assert bad[:32] not in body


def test_ui_download_of_a_good_file(registry: Registry, tmp_path: Path, monkeypatch: Any):
    import httpx

    from artiflow.ui import create_app

    data = os.urandom(3 * 1024 * 1024)
    art = Artifact("web")
    with art.new_file("three.bin", mode="wb") as f:
        f.write(data)
    registry.log(art)
    with serve(create_app(registry)) as base:
        url = f"{base}api/versions/default/web/v0/files/three.bin"
        assert httpx.get(url).content == data
        monkeypatch.setenv("ARTIFLOW_VERIFY_SPOOL_BYTES", "1024")
        assert httpx.get(url).content == data


# ---- fsck on PostgreSQL: the same report, repair and sample as on SQLite ---------------------
@pytest.fixture
def pg_registry(pg_url: str, tmp_path: Path) -> Iterator[Registry]:
    with Registry(db_url=pg_url, store_url=str(tmp_path / "pg-store")) as reg:
        yield reg


@pytest.mark.parametrize("kind", ["flip", "missing"])
def test_fsck_on_postgresql(pg_registry: Registry, tmp_path: Path, kind: str) -> None:
    reg = pg_registry
    v = log_files(reg, tmp_path / "data")
    log_files(reg, tmp_path / "data", name="copy")
    digest = v.get_path("a.csv").digest
    damage(reg.store, digest, SMALL, kind)
    report = reg.fsck(repair=False)
    (problem,) = report.problems
    assert problem.kind == ("missing" if kind == "missing" else "corrupt")
    assert [(b.ref, b.path) for b in problem.versions] == [
        ("default/copy:v0", "a.csv"),
        ("default/ds:v0", "a.csv"),
    ]
    assert reg.fsck(sample=1, repair=False).checked == 1
    # a full fsck sets the damaged blob aside (the sample above may have drawn the good one),
    # and re-logging the original content then repairs it
    assert not reg.fsck().ok
    relog(reg, tmp_path / "data")
    assert reg.fsck().ok
    assert_intact(v, tmp_path / "out")
