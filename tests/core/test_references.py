"""References, scheme by scheme: ``file://`` (a real folder), ``http(s)://`` (a real HTTP server
on a free local port), object stores through fsspec (``memory://``; S3 and GCS are in
tests/scale/test_references_remote.py), and the checks every download makes."""

from __future__ import annotations

import doctest
import importlib
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fsspec
import pytest

import artiflow.references as references
from artiflow.exceptions import InvalidPathError, StoreError, VerificationError
from artiflow.hashing import hash_bytes
from artiflow.manifest import Entry
from artiflow.references import (
    DEFAULT_MAX_OBJECTS,
    changed,
    download_reference,
    identity_of,
    reference_options,
    resolve,
)
from artiflow.references.dispatch import scheme_module

MODULES = ["", ".base", ".file", ".http", ".objects", ".dispatch"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str, chdir_tmp: Path) -> None:
    module = importlib.import_module(f"artiflow.references{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_public_names_kept() -> None:
    assert set(references.__all__) == {
        "DEFAULT_MAX_OBJECTS",
        "changed",
        "download_reference",
        "identity_of",
        "reference_options",
        "resolve",
    }
    assert DEFAULT_MAX_OBJECTS == 10_000


def test_one_module_per_scheme() -> None:
    assert scheme_module("file:///x").__name__.endswith(".file")
    assert scheme_module("HTTPS://x/y").__name__.endswith(".http")
    for uri in ("s3://b/k", "gs://b/k", "memory://b/k"):
        assert scheme_module(uri).__name__.endswith(".objects")


def test_options_follow_the_store_kind() -> None:
    assert reference_options("s3a://b/k", "s3://store", {"anon": True}) == {"anon": True}
    assert reference_options("gcs://b/k", "gs://store", {"token": "t"}) == {"token": "t"}
    assert reference_options("s3://b/k", "/local/store", {"anon": True}) == {}


def test_a_logged_entry_reaches_its_reference_with_the_registry_options(tmp_path: Path) -> None:
    """Downloads and checks of a version's reference use its registry's storage options when
    the reference lives on the same kind of store (they were silently dropped when versions
    stopped holding the facade)."""
    from artiflow import Artifact, Registry
    from artiflow.references.base import entry_options

    bucket = f"refs-{uuid.uuid4().hex[:8]}"
    fsspec.filesystem("memory").pipe_file(f"/{bucket}/a.csv", b"a,b")
    options = {"skip_instance_cache": False}
    with Registry(
        home=tmp_path / "home", store_url=f"memory://store-{bucket}", storage_options=options
    ) as registry:
        draft = Artifact("ds")
        draft.add_reference(f"memory://{bucket}/a.csv")
        version = registry.log(draft)
        assert version.settings.storage_options == options
        assert entry_options(version.get_path("a.csv")) == options
        assert (version.download(tmp_path / "out") / "a.csv").read_bytes() == b"a,b"
    assert entry_options(Entry("a.csv", size=3, ref=f"memory://{bucket}/a.csv")) == {}


# ---- file:// ------------------------------------------------------------------------------------
def test_file_reference_file_and_folder(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_bytes(b"a,b\n")
    [entry] = resolve("x", f"file://{one}", checksum=True, max_objects=None)
    assert (entry.digest, entry.size) == (hash_bytes(b"a,b\n"), 4)
    folder = tmp_path / "dir"
    for name in ("b.txt", "sub/a.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)
    entries = resolve("d", f"file://{folder}", checksum=True, max_objects=None)
    assert [e.path for e in entries] == ["d/b.txt", "d/sub/a.txt"]
    with pytest.raises(InvalidPathError, match="more than 1 objects"):
        resolve("d", f"file://{folder}", checksum=True, max_objects=1)
    with pytest.raises(InvalidPathError, match="does not exist"):
        resolve("d", f"file://{tmp_path / 'nope'}", checksum=True, max_objects=None)


def test_file_reference_changed_and_download(tmp_path: Path) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(b"1234")
    [entry] = resolve("f", f"file://{src}", checksum=True, max_objects=None)
    assert not changed(entry)
    download_reference(entry, tmp_path / "out" / "f.bin")
    assert (tmp_path / "out" / "f.bin").read_bytes() == b"1234"
    src.write_bytes(b"4321")  # same size, other content
    assert changed(entry)
    with pytest.raises(VerificationError, match="content hash changed"):
        download_reference(entry, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
    src.unlink()
    assert identity_of(entry) == {} and changed(entry)
    with pytest.raises(VerificationError, match="is gone"):
        download_reference(entry, tmp_path / "out3")


# ---- http(s):// -----------------------------------------------------------------------------------
class _Site:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.etag: str | None = "strong"  # "strong", "weak" or None
        self.requests: list[str] = []

    def tag(self, path: str) -> str | None:
        if self.etag is None or path not in self.files:
            return None
        value = f'"{hash_bytes(self.files[path])[:16]}"'
        return value if self.etag == "strong" else f"W/{value}"


@pytest.fixture
def site() -> Iterator[tuple[str, _Site]]:
    state = _Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _head(self) -> bytes | None:
            state.requests.append(f"{self.command} {self.path}")
            data = state.files.get(self.path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            tag = state.tag(self.path)
            wanted = self.headers.get("If-Match")
            if wanted is not None and wanted != tag:
                self.send_response(412)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            if tag is not None:
                self.send_header("ETag", tag)
            self.end_headers()
            return data

        def do_HEAD(self) -> None:
            self._head()

        def do_GET(self) -> None:
            data = self._head()
            if data is not None:
                self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_strong_etag_is_recorded_not_hashed(site: tuple[str, _Site], tmp_path: Path) -> None:
    base, state = site
    state.files["/x.csv"] = b"a,b\n1,2\n"
    [entry] = resolve("x", f"{base}/x.csv", checksum=True, max_objects=None)
    assert entry.digest is None and entry.size == 8 and entry.extra["etag"] == state.tag("/x.csv")
    assert state.requests == ["HEAD /x.csv"]  # nothing fetched
    assert not changed(entry)
    download_reference(entry, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_bytes() == b"a,b\n1,2\n"
    state.files["/x.csv"] = b"a,b\n3,4\n"  # same size, new ETag: If-Match fails
    assert changed(entry)
    with pytest.raises(VerificationError, match="changed since it was logged"):
        download_reference(entry, tmp_path / "again.csv")
    assert not (tmp_path / "again.csv").exists()


@pytest.mark.parametrize("etag", [None, "weak"])
def test_http_without_strong_etag_is_hashed(
    site: tuple[str, _Site], tmp_path: Path, etag: str | None
) -> None:
    base, state = site
    state.etag = etag
    state.files["/y.bin"] = b"0123456789"
    [entry] = resolve("y", f"{base}/y.bin", checksum=True, max_objects=None)
    assert entry.digest == hash_bytes(b"0123456789") and entry.size == 10
    assert not changed(entry)
    state.files["/y.bin"] = b"9876543210"  # same size: only the content hash sees it
    assert changed(entry)
    with pytest.raises(VerificationError, match="content hash changed"):
        download_reference(entry, tmp_path / "y.bin")


def test_http_missing_and_unreachable(site: tuple[str, _Site], tmp_path: Path) -> None:
    base, state = site
    with pytest.raises(InvalidPathError, match="HTTP 404"):
        resolve("z", f"{base}/nope", checksum=True, max_objects=None)
    state.files["/z"] = b"z"
    [entry] = resolve("z", f"{base}/z", checksum=True, max_objects=None)
    del state.files["/z"]
    assert identity_of(entry) == {} and changed(entry)
    with pytest.raises(VerificationError, match="is gone"):
        download_reference(entry, tmp_path / "z")
    with pytest.raises(StoreError, match="cannot reach reference"):
        resolve("z", "http://127.0.0.1:9/x", checksum=True, max_objects=None)


def test_without_checksum_only_the_uri() -> None:
    [entry] = resolve("p", "http://127.0.0.1:9/never-asked", checksum=False, max_objects=None)
    assert entry == Entry("p", ref="http://127.0.0.1:9/never-asked")
    assert not changed(entry)  # nothing recorded: nothing to compare


# ---- object stores through fsspec -----------------------------------------------------------------
def test_object_reference_and_prefix(tmp_path: Path) -> None:
    root = f"memory://refs-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{root}/data/a.txt", b"aaa")
    fs.pipe_file(f"{root}/data/sub/b.txt", b"bb")
    [one] = resolve("a", f"{root}/data/a.txt", checksum=True, max_objects=None)
    assert one.size == 3 and one.ref == f"{root}/data/a.txt"
    entries = resolve("d", f"{root}/data", checksum=True, max_objects=None)
    assert [(e.path, e.size) for e in entries] == [("d/a.txt", 3), ("d/sub/b.txt", 2)]
    with pytest.raises(InvalidPathError, match="more than 1 objects"):
        resolve("d", f"{root}/data", checksum=True, max_objects=1)
    with pytest.raises(InvalidPathError, match="matches no object"):
        resolve("d", f"{root}/nothing", checksum=True, max_objects=None)
    assert not changed(one, {})
    download_reference(one, tmp_path / "a.txt", {})
    assert (tmp_path / "a.txt").read_bytes() == b"aaa"
    fs.pipe_file(f"{root}/data/a.txt", b"aaaa")
    assert changed(one, {})
    with pytest.raises(VerificationError, match="its size is 4, recorded 3"):
        download_reference(one, tmp_path / "a2.txt", {})
    fs.rm_file(f"{root}/data/a.txt")
    assert identity_of(one, {}) == {}
