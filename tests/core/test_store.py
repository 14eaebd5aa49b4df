"""The store package, module by module: the factory picks the backend by URL; the local folder
and S3 (a real moto server) pass one conformance suite (put/get/missing/verify-on-read/set-aside/
download cache/checkout); a batch of presence checks costs one request on a small bucket; the
file-system opener names the extra to install."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.exceptions import StoreError, VerificationError
from artiflow.hashing import hash_bytes
from artiflow.store import (
    QUARANTINE,
    BlobStore,
    DownloadCache,
    LocalBlobStore,
    RemoteBlobStore,
    S3BlobStore,
    copy_new_small,
    link_or_copy,
    open_filesystem,
    open_store,
)
from artiflow.store.fs import install_hint


def _load(name: str, folder: str) -> Any:
    """Another test folder's conftest, loaded by path (test folders are not packages)."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).parents[1] / folder / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_scale = _load("_scale_fixtures_store", "scale")
moto_endpoint = _scale.moto_endpoint
s3_bucket = _scale.s3_bucket

MODULES = ["base", "local", "remote", "s3", "cache", "checkout", "fs"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str, chdir_tmp: Path) -> None:
    module = importlib.import_module(f"artiflow.store.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_factory_picks_the_backend_by_url(tmp_path: Path) -> None:
    assert type(BlobStore(str(tmp_path))) is LocalBlobStore
    assert type(BlobStore(f"file://{tmp_path}")) is LocalBlobStore
    assert type(BlobStore("memory://af-factory")) is RemoteBlobStore
    assert type(open_store("memory://af-factory")) is RemoteBlobStore
    assert BlobStore(str(tmp_path)).is_local and not BlobStore("memory://x").is_local
    assert repr(BlobStore(str(tmp_path))) == f"BlobStore({str(tmp_path)!r})"


def test_no_backend_flag_in_the_store() -> None:
    """Polymorphism, not a flag: no store module branches on ``is_local``."""
    folder = Path(importlib.import_module("artiflow.store").__file__ or "").parent
    for path in folder.glob("*.py"):
        lines = [ln for ln in path.read_text().splitlines() if "is_local" in ln]
        uses = [ln for ln in lines if "if " in ln and "is_local_url" not in ln]
        assert not uses, (path.name, uses)


def test_missing_backend_names_the_extra() -> None:
    pytest.importorskip("fsspec")
    if importlib.util.find_spec("ocifs") is None:  # a backend fsspec knows, not installed here
        with pytest.raises(StoreError, match="install the fsspec backend for 'oci'"):
            open_filesystem("oci://bucket/x", {})
    with pytest.raises(StoreError, match="Protocol not known"):
        open_filesystem("nosuchproto://bucket/x", {})
    assert install_hint("s3") == "pip install 'artiflow[s3]'"


# ---- one conformance suite: local folder and S3 ------------------------------------------------
@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore(str(tmp_path / "objects"))
    bucket = request.getfixturevalue("s3_bucket")
    made = BlobStore(f"s3://{bucket}/objects")
    assert type(made) is S3BlobStore
    return made


def _corrupt(store: BlobStore, digest: str, data: bytes) -> None:
    if isinstance(store, LocalBlobStore):
        path = store.path(digest)
        os.chmod(path, 0o644)
        Path(path).write_bytes(data)
    else:
        store.fs.pipe_file(store.path(digest), data)


def test_put_get_missing(store: BlobStore, tmp_path: Path) -> None:
    digest = store.put_bytes(b"hello")
    assert digest == hash_bytes(b"hello")
    assert store.exists(digest) and store.read_bytes(digest) == b"hello"
    assert store.put_bytes(b"hello") == digest  # content-addressed: stored once
    assert store.missing([digest, "00" * 32]) == {"00" * 32}
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(3000))
    found, size = store.put_file(src)
    assert size == 3000 and store.hash_blob(found) == (found, 3000)
    out = tmp_path / "out" / "f.bin"
    store.get_file(found, out)
    assert out.read_bytes() == src.read_bytes()
    assert {d for d, _ in store.iter_blobs()} == {digest, found}
    store.delete_many([digest, found])
    assert store.missing([digest, found]) == {digest, found}


def test_put_many_skips_what_is_stored(store: BlobStore, tmp_path: Path) -> None:
    files = []
    for i in range(5):
        p = tmp_path / f"f{i}"
        p.write_bytes(f"file {i}".encode())
        files.append((str(p), hash_bytes(p.read_bytes())))
    assert store.put_many(files[:2]) == 2
    assert store.put_many(files) == 3
    assert store.put_many(files) == 0


def test_verify_on_read_sets_aside_never_deletes(store: BlobStore, tmp_path: Path) -> None:
    digest = store.put_bytes(b"good content")
    _corrupt(store, digest, b"bad content!")
    with pytest.raises(VerificationError, match="corrupt"):
        store.read_bytes(digest)
    assert not store.exists(digest)  # moved aside: the next log stores it again
    aside = store.quarantined()
    assert list(aside) == [digest] and QUARANTINE in aside[digest][0]
    assert store.put_bytes(b"good content") == digest
    assert store.read_bytes(digest) == b"good content"


def test_get_file_of_a_corrupt_blob_leaves_dest_untouched(store: BlobStore, tmp_path: Path) -> None:
    digest = store.put_bytes(b"x" * 100)
    _corrupt(store, digest, b"y" * 100)
    out = tmp_path / "out"
    with pytest.raises(VerificationError):
        store.get_file(digest, out)
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_transient_bad_read_changes_nothing(store: BlobStore) -> None:
    digest = store.put_bytes(b"fine")
    err = store.corrupt_error(digest, "ff" * 32)  # as if one read had been garbled
    assert isinstance(err, StoreError) and "transient" in str(err)
    assert store.exists(digest) and store.quarantined() == {}


def test_missing_blob_says_so(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is missing from store"):
        store.get_file("00" * 32, tmp_path / "x")


def test_download_cache_fetches_once_and_verifies(store: BlobStore, tmp_path: Path) -> None:
    cache = DownloadCache(str(tmp_path / "cache"))
    digest = store.put_bytes(b"cached")
    path = cache.local_copy(store, digest)
    assert Path(path).read_bytes() == b"cached"
    if isinstance(store, LocalBlobStore):
        assert path == store.path(digest) and not cache.exists(digest)  # used in place
    else:
        assert cache.exists(digest) and cache.fill(store, [digest]) == 0
        other = store.put_bytes(b"other")
        assert cache.fill(store, [digest, other]) == 1


def test_checkout_primitives_verify(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path / "s"))
    digest = store.put_bytes(b"abc" * 1000)
    for kind in ("copy", "reflink", "hardlink", "symlink"):
        dst = tmp_path / "out" / kind
        link_or_copy(store.path(digest), dst, kind, digest, size=3000)
        assert dst.read_bytes() == b"abc" * 1000
    copy_new_small([(store.path(digest), str(tmp_path / "new"), digest, 3000)], store.url)
    assert (tmp_path / "new").read_bytes() == b"abc" * 1000
    _corrupt(store, digest, b"xyz" * 1000)
    with pytest.raises(VerificationError):
        link_or_copy(store.path(digest), tmp_path / "bad", "copy", digest, size=3000)
    assert not (tmp_path / "bad").exists() and list(store.quarantined()) == [digest]


def test_local_wrong_size_counts_as_absent(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path / "s"))
    digest = store.put_bytes(b"12345")
    assert store.missing([digest], {digest: 5}) == set()
    assert store.missing([digest], {digest: 4}) == {digest}
    assert list(store.quarantined()) == [digest]


# ---- re-logging unchanged content asks the store once per batch ------------------------------
class _Counter:
    """Counts the S3 requests of an s3fs file system (its own async request method)."""

    def __init__(self, fs: Any) -> None:
        self.calls: list[str] = []
        self._orig = fs._call_s3, fs.call_s3

        async def counting(method: str, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(method)
            return await self._orig[0](method, *args, **kwargs)

        def counting_sync(method: str, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(method)
            return self._orig[1](method, *args, **kwargs)

        fs._call_s3, fs.call_s3 = counting, counting_sync
        self._fs = fs

    def __enter__(self) -> _Counter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fs._call_s3, self._fs.call_s3 = self._orig


@pytest.fixture
def s3_registry(s3_bucket: str, tmp_path: Path) -> Iterator[Registry]:
    # a prefix of its own: the bucket is shared, and the request counts depend on what it holds
    reg = Registry(home=tmp_path / "home", store_url=f"s3://{s3_bucket}/{uuid.uuid4().hex}/objects")
    yield reg
    reg.close()


@pytest.mark.parametrize("n", [10, 150])
def test_relog_unchanged_asks_the_store_once(s3_registry: Registry, tmp_path: Path, n: int) -> None:
    data = tmp_path / "data"
    for i in range(n):
        (data / f"d{i % 7}").mkdir(parents=True, exist_ok=True)
        (data / f"d{i % 7}" / f"f{i}.txt").write_text(f"file {i} {uuid.uuid4().hex}")
    art = Artifact("small")
    art.add_dir(data)
    first = s3_registry.log(art)
    again = Registry(home=tmp_path / "home", store_url=s3_registry.settings.store_url)
    try:
        with _Counter(again.store.fs) as counter:
            art = Artifact("small")
            art.add_dir(data)
            version = again.log(art)
        assert version.version == first.version
        # one listing, or two when the blobs' random digests make a second (one shard) cheaper
        # than the rest of the first: never one request per blob (10 or 150 before)
        assert len(counter.calls) <= 2 and set(counter.calls) == {"list_objects_v2"}, counter.calls
    finally:
        again.close()


def test_missing_lists_a_big_batch_page_by_page(s3_bucket: str, tmp_path: Path) -> None:
    store = BlobStore(f"s3://{s3_bucket}/objects")
    # 1,100 blobs (more than one listing page), uploaded in one concurrent batch rather than
    # one put_bytes (a HEAD and a PUT) after the other
    src = tmp_path / "blobs"
    src.mkdir()
    items = []
    for i in range(1100):
        data = f"blob {i}".encode()
        (src / str(i)).write_bytes(data)
        items.append((str(src / str(i)), hash_bytes(data)))
    assert store.put_many(items) == 1100
    digests = [d for _, d in items]
    with _Counter(store.fs) as counter:
        assert store.missing([*digests, "00" * 32]) == {"00" * 32}
    assert counter.calls == ["list_objects_v2", "list_objects_v2"], counter.calls
    with _Counter(store.fs) as counter:  # a few digests of a bigger store: HEADs, not 256 listings
        assert store.missing(digests[:3]) == set()
    assert len(counter.calls) <= 4, counter.calls
