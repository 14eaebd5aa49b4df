"""A registry shared through PostgreSQL and a bucket: configured from the environment, content
round-trips through S3 and GCS, and several runs of one pipeline at once each consume exactly the
versions their own upstream task produced."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import _scale_workers as workers
import pytest

from artiflow import Artifact, Registry
from artiflow.store import BlobStore


def _fill(folder: Path, n: int, size: int = 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"f{i:04d}.txt").write_bytes(f"{i:06d}".encode() * (size // 6))
    return folder


def test_registry_from_environment_on_postgres_and_s3(
    pg_url: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTIFLOW_DB_URL", pg_url)
    monkeypatch.setenv("ARTIFLOW_STORE_URL", f"s3://{s3_bucket}/artiflow")
    monkeypatch.setenv("ARTIFLOW_HOME", str(tmp_path / "home"))
    with Registry() as reg:
        assert reg.catalog.dialect == "postgresql"
        assert reg.store.protocol == "s3"
        art = Artifact("env-ds", type="dataset")
        art.add_dir(_fill(tmp_path / "src", 40))
        v = reg.log(art, aliases=["production"])
        assert v.file_count == 40
    # another "machine": its own home (cache), same database and bucket
    monkeypatch.setenv("ARTIFLOW_HOME", str(tmp_path / "other-home"))
    with Registry() as reg:
        v = reg.get("env-ds:production")
        root = v.download(tmp_path / "out")
        v.verify(root)
        assert (root / "f0007.txt").read_bytes() == (tmp_path / "src" / "f0007.txt").read_bytes()
        cached = {d for d, _ in BlobStore(str(tmp_path / "other-home" / "cache")).iter_blobs()}
        assert cached == {e.digest for e in v.files()}  # fetched in bulk into the local cache


def test_registry_on_gcs_emulator(gcs_bucket: str, tmp_path: Path) -> None:
    """Small data only: the emulator slows down as objects accumulate and mishandles parallel
    writes, hence ARTIFLOW_TRANSFER_CONCURRENCY=1 here."""
    os.environ["ARTIFLOW_TRANSFER_CONCURRENCY"] = "1"
    try:
        with Registry(
            f"sqlite:///{tmp_path / 'r.db'}", f"gs://{gcs_bucket}/artiflow", home=str(tmp_path)
        ) as reg:
            art = Artifact("gcs-ds", type="dataset")
            art.add_dir(_fill(tmp_path / "src", 6))
            v = reg.log(art)
            patch = v.new_draft()
            with patch.new_file("extra.txt") as fh:
                fh.write("more")
            v1 = reg.log(patch)
            root = v1.download(tmp_path / "out")
            v1.verify(root)
            assert sorted(p.name for p in root.iterdir())[-1] == "f0005.txt"
    finally:
        del os.environ["ARTIFLOW_TRANSFER_CONCURRENCY"]


def test_concurrent_pipeline_runs_consume_their_own_versions(
    pg_url: str, s3_bucket: str, tmp_path: Path
) -> None:
    runs = 4
    ctx = multiprocessing.get_context("spawn")
    store = f"s3://{s3_bucket}/artiflow"
    with ctx.Pool(runs) as pool:
        pending = [
            pool.apply_async(workers.pipeline_run, (pg_url, store, str(tmp_path / f"h{i}"), i))
            for i in range(runs)
        ]
        results = [p.get(timeout=150) for p in pending]
    errors = [r["trace"] for r in results if "error" in r]
    assert not errors, "\n\n".join(errors)
    out = [r["ok"] for r in results]
    for i, r in enumerate(out):
        assert r["consumed"] == r["produced"], r  # its own upstream version, not a newer one
        assert r["content_run"] == f"run,{i}"
    assert len({r["produced"] for r in out}) == runs
    with Registry(pg_url, store, home=str(tmp_path / "check")) as reg:
        assert len(reg.versions("pipe-ds")) == runs
        for r in out:
            model = reg.get(r["model"])
            assert model.metadata["trained_on"] == r["produced"]
            upstream = reg.lineage(model, "upstream")
            assert r["produced"] in str(upstream.to_dict())


_MEASURE = r"""
import os, sys, time
from artiflow.hashing import hash_file
from artiflow.store import BlobStore
bucket, folder, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rates = []
for workers in (1, 16):
    src = os.path.join(folder, f"w{workers}")
    os.makedirs(src)
    items = []
    for i in range(n):
        p = os.path.join(src, f"{i}.txt")
        with open(p, "wb") as fh:
            fh.write(f"{workers} {i} ".encode() * 16)
        items.append((p, hash_file(p)[0]))
    store = BlobStore(f"s3://{bucket}/w{workers}", max_concurrency=workers)
    t = time.perf_counter()
    assert store.put_many(items) == n
    up = n / (time.perf_counter() - t)
    cache = BlobStore(os.path.join(folder, f"cache{workers}"))
    t = time.perf_counter()
    assert store.get_many([d for _, d in items], cache) == n
    rates += [up, n / (time.perf_counter() - t)]
print(*(f"{r:.1f}" for r in rates))
"""


def test_parallel_transfer_of_many_small_files(
    s3_bucket: str, slow_s3_endpoint: str, tmp_path: Path
) -> None:
    """Many small files, one at a time vs 16 at a time, through 20 ms of simulated latency in
    front of moto (relative figures only; the client runs in its own process so it does not
    share the server's GIL)."""
    n = os.environ.get("ARTIFLOW_SCALE_SMALL_FILES", "60")
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, s3_bucket, str(tmp_path), n],
        capture_output=True,
        text=True,
        timeout=150,
        check=True,
        env={**os.environ, "AWS_ENDPOINT_URL": slow_s3_endpoint},
    )
    up1, down1, up16, down16 = (float(x) for x in out.stdout.split())
    print(
        f"\n{n} small files, moto S3 + 20 ms latency: put_many {up1:.0f} -> {up16:.0f} files/s "
        f"({up16 / up1:.1f}x), get_many {down1:.0f} -> {down16:.0f} files/s ({down16 / down1:.1f}x)"
    )
    assert up16 > 1.5 * up1
    assert down16 > 1.5 * down1
