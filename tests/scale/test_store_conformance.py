"""One conformance suite for every content store: a local folder, ``memory://``, S3 (moto server)
and GCS (the gcp-storage-emulator)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from artiflow.exceptions import StoreError, VerificationError
from artiflow.hashing import hash_bytes, hash_file
from artiflow.store import BlobStore

BACKENDS = ["local", "memory", "s3", "gcs"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if backend == "local":
        return BlobStore(str(tmp_path / "objects"))
    if backend == "memory":
        return BlobStore(f"memory://af-{uuid.uuid4().hex[:8]}/objects")
    if backend == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return BlobStore(f"s3://{bucket}/objects")  # endpoint and keys from AWS_* env
    bucket = request.getfixturevalue("gcs_bucket")
    endpoint = request.getfixturevalue("gcs_endpoint")
    # explicit storage_options here (the registry tests use STORAGE_EMULATOR_HOST instead);
    # the emulator mishandles concurrent writes: one request at a time
    return BlobStore(
        f"gs://{bucket}/objects",
        {"endpoint_url": endpoint, "token": "anon", "project": "test"},
        max_concurrency=1,
    )


def _overwrite(store: BlobStore, digest: str, data: bytes) -> None:
    """Corrupt a stored blob behind the store's back."""
    if store.is_local:
        path = store.path(digest)
        os.chmod(path, 0o644)
        with open(path, "wb") as fh:
            fh.write(data)
    else:
        store.fs.pipe_file(store.path(digest), data)


def _files(tmp_path: Path, n: int, prefix: str = "f") -> list[tuple[str, str]]:
    out = []
    folder = tmp_path / f"src-{prefix}"
    folder.mkdir(exist_ok=True)
    for i in range(n):
        p = folder / f"{i}.bin"
        p.write_bytes(f"{prefix}-{i}-{uuid.uuid4().hex}".encode())
        out.append((str(p), hash_file(p)[0]))
    return out


class TestStoreConformance:
    def test_put_exists_read(self, store: BlobStore) -> None:
        digest = store.put_bytes(b"hello")
        assert digest == hash_bytes(b"hello")
        assert store.exists(digest)
        assert store.read_bytes(digest) == b"hello"
        assert not store.exists("00" * 32)
        assert store.put_bytes(b"hello") == digest  # idempotent, never overwrites

    def test_put_file_get_file(self, store: BlobStore, tmp_path: Path) -> None:
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(1536 * 1024))  # above the local small-file path
        seen: list[int] = []
        digest, size = store.put_file(src, progress=seen.append)
        assert (digest, size) == hash_file(src)
        assert sum(seen) == size
        dest = tmp_path / "out" / "big.bin"
        got: list[int] = []
        store.get_file(digest, dest, progress=got.append)
        assert dest.read_bytes() == src.read_bytes()
        assert sum(got) == size
        # known digest and present blob: nothing is read or sent again
        assert store.put_file(src, digest=digest) == (digest, size)

    def test_missing_few_and_many(self, store: BlobStore, tmp_path: Path) -> None:
        new = [hash_bytes(f"new-{i}".encode()) for i in range(70)]
        assert store.missing(new) == set(new)  # an empty store: one listing of its root
        stored = [store.put_bytes(f"blob-{i}".encode()) for i in range(70)]
        absent = [hash_bytes(f"absent-{i}".encode()) for i in range(5)]
        assert store.missing(stored[:3] + absent[:2]) == set(absent[:2])  # one HEAD each
        assert store.missing(stored + absent) == set(absent)  # shard listings
        assert store.missing([]) == set()

    def test_iter_blobs_and_delete(self, store: BlobStore) -> None:
        digests = {store.put_bytes(f"x{i}".encode()) for i in range(4)}
        listed = dict(store.iter_blobs())
        assert set(listed) == digests
        for mtime in listed.values():
            assert abs(mtime - time.time()) < 600
        victim = sorted(digests)[0]
        store.delete(victim)
        assert not store.exists(victim)
        store.delete(victim)  # deleting a missing blob is fine
        assert set(dict(store.iter_blobs())) == digests - {victim}

    def test_corrupt_blob_is_detected_not_handed_out_and_removed(
        self, store: BlobStore, tmp_path: Path
    ) -> None:
        digest = store.put_bytes(b"the real content")
        _overwrite(store, digest, b"bit rot")
        dest = tmp_path / "out.txt"
        dest.write_bytes(b"previous")
        with pytest.raises(VerificationError, match="corrupt"):
            store.get_file(digest, dest)
        assert dest.read_bytes() == b"previous"  # untouched
        assert not [p for p in os.listdir(tmp_path) if ".artiflow-" in p]  # no temp left
        assert not store.exists(digest)  # removed, so a re-log uploads it again
        assert store.put_bytes(b"the real content") == digest
        assert store.read_bytes(digest) == b"the real content"
        _overwrite(store, digest, b"bit rot again")
        with pytest.raises(VerificationError):
            store.read_bytes(digest)

    def test_missing_blob_read_is_store_error(self, store: BlobStore, tmp_path: Path) -> None:
        with pytest.raises(StoreError, match="missing"):
            store.get_file("ab" * 32, tmp_path / "x")
        assert not (tmp_path / "x").exists()

    def test_put_many_get_many(self, store: BlobStore, tmp_path: Path) -> None:
        items = _files(tmp_path, 24)
        items.append(items[0])  # the same content twice is stored once
        sent: list[int] = []
        assert store.put_many(items, progress=sent.append) == 24
        assert sum(sent) == sum(os.path.getsize(p) for p, _ in items)
        assert store.put_many(items) == 0  # everything present: nothing uploaded
        assert store.missing(d for _, d in items) == set()
        cache = BlobStore(str(tmp_path / "cache"))
        digests = [d for _, d in items]
        if store.is_local:
            with pytest.raises(StoreError):
                cache.get_many(digests, BlobStore("memory://not-local"))
        assert store.get_many(digests, cache) == 24
        assert store.get_many(digests, cache) == 0
        for p, d in items:
            assert Path(cache.path(d)).read_bytes() == Path(p).read_bytes()

    def test_put_many_refuses_a_file_changed_after_hashing(
        self, store: BlobStore, tmp_path: Path
    ) -> None:
        (path, digest), *_ = _files(tmp_path, 1)
        before = os.stat(path)
        Path(path).write_bytes(b"rewritten after it was hashed")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        with pytest.raises(StoreError, match="changed while"):
            store.put_many([(path, digest)], unchanged_since={path: before})
        assert not store.exists(digest)  # never stored under the old content's name

    def test_get_many_rejects_corrupt_blob(self, store: BlobStore, tmp_path: Path) -> None:
        items = _files(tmp_path, 3)
        store.put_many(items)
        bad = items[1][1]
        _overwrite(store, bad, b"garbage")
        cache = BlobStore(str(tmp_path / "cache"))
        with pytest.raises(VerificationError):
            store.get_many([d for _, d in items], cache)
        assert not cache.exists(bad)

    def test_concurrent_puts_of_same_content(self, store: BlobStore, tmp_path: Path) -> None:
        src = tmp_path / "same.bin"
        src.write_bytes(os.urandom(200_000))
        results: list[Any] = []

        def put() -> None:
            results.append(store.put_file(src))

        threads = [threading.Thread(target=put) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({r for r in results}) == 1
        digest = results[0][0]
        assert store.read_bytes(digest) == src.read_bytes()
        assert set(dict(store.iter_blobs())) == {digest}  # no temporary names visible


def test_unknown_backend_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        BlobStore("nosuchproto-artiflow://bucket/x")


_STREAM_CHILD = r"""
import os, sys, tracemalloc
from artiflow.store import BlobStore
store = BlobStore(sys.argv[1])
tracemalloc.start()
digest, size = store.put_file(sys.argv[2])
up = tracemalloc.get_traced_memory()[1]
tracemalloc.reset_peak()
store.get_file(digest, sys.argv[2] + ".back")
down = tracemalloc.get_traced_memory()[1]
print(up, down)
"""


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_large_file_is_streamed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A 96 MiB blob goes up and down in bounded chunks (peak Python memory far below its size)."""
    url = str(tmp_path / "objects")
    if backend == "s3":
        url = f"s3://{request.getfixturevalue('s3_bucket')}/objects"
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        for _ in range(96):
            fh.write(os.urandom(1024 * 1024))
    out = subprocess.run(
        [sys.executable, "-c", _STREAM_CHILD, url, str(big)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    up, down = (int(x) for x in out.stdout.split())
    limit = 48 * 1024 * 1024  # half the file; s3fs keeps ~2 copies of 2 x 8 MiB parts
    assert up < limit, f"upload peaked at {up / 2**20:.1f} MiB for a 96 MiB file"
    assert down < limit, f"download peaked at {down / 2**20:.1f} MiB for a 96 MiB file"
    assert hash_file(str(big) + ".back") == hash_file(big)
