"""Real services for the shared-registry tests: a moto S3 server, the GCS emulator, a local HTTP
server with ETags, and scratch PostgreSQL databases. Everything listens on 127.0.0.1.

PostgreSQL tests read ``ARTIFLOW_TEST_POSTGRES_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) and create a scratch database per test
on that server. Without it they skip, except when ``CI`` is set: then they fail, so CI never
silently loses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import logging
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the worker module, importable in spawned processes too

# the servers themselves live in a module of their own, so that test modules import them by a
# name no other test folder has (``conftest`` is the name of every folder's conftest)
from _scale_services import (  # noqa: E402
    PG_BIN_ENV,
    OwnPostgres,
    _env,
    _free_port,
    _LatencyProxy,
    _pg_bindir,
    _Proxy,
    _wait_port,
)

__all__ = ["OwnPostgres", "_LatencyProxy", "_Proxy"]  # re-exported for older imports

# gcsfs reads this when it is imported; without it every call against the emulator stalls ~60 s
# on a gRPC bucket-type lookup
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


# ---- S3: one moto server per session, reset before each test --------------------------------
@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(
        ip_address="127.0.0.1", port=_free_port(), verbose=False
    )
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with _env(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    ):
        yield endpoint
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A fresh, empty bucket on a freshly reset moto server (env points s3fs at it)."""
    import fsspec

    req = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    fsspec.filesystem("s3").clear_instance_cache()
    name = f"af-{uuid.uuid4().hex[:10]}"
    import s3fs

    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(name)
    return name


@pytest.fixture
def s3fs_client(s3_bucket: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)


@pytest.fixture
def slow_s3_endpoint(moto_endpoint: str) -> Iterator[str]:
    """The moto server behind 20 ms of simulated network latency per request."""
    proxy = _Proxy(int(moto_endpoint.rsplit(":", 1)[1]), 0.02)
    yield f"http://127.0.0.1:{proxy.port}"
    proxy.close()


@pytest.fixture
def flaky_s3_proxy(moto_endpoint: str) -> Iterator[_Proxy]:
    """The moto server behind a proxy that cuts connections at random (set ``cut_rate``,
    ``max_cuts`` on it; it starts faultless). Its endpoint: ``http://127.0.0.1:<port>``."""
    proxy = _Proxy(int(moto_endpoint.rsplit(":", 1)[1]), seed=11)
    yield proxy
    proxy.close()


# ---- GCS: the gcp-storage-emulator, in memory --------------------------------------------
@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    pytest.importorskip("gcsfs")
    exe = shutil.which("gcp-storage-emulator") or str(
        Path(sys.executable).parent / "gcp-storage-emulator"
    )
    if not os.path.exists(exe):
        pytest.skip("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "start", "-H", "127.0.0.1", "--port", str(port), "-M"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        # gcsfs's standard emulator switch: anonymous credentials, this endpoint
        with _env(STORAGE_EMULATOR_HOST=endpoint):
            yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def gcs_bucket(gcs_endpoint: str) -> str:
    import gcsfs

    urllib.request.urlopen(f"{gcs_endpoint}/wipe", timeout=10).close()
    name = f"af-{uuid.uuid4().hex[:10]}"
    gcsfs.GCSFileSystem(
        endpoint_url=gcs_endpoint, token="anon", project="test", skip_instance_cache=True
    ).mkdir(name)
    return name


# ---- HTTP with ETags ---------------------------------------------------------------------
class _Files(dict[str, bytes]):
    """Path -> content served by the test HTTP server. ``etag = False`` serves without ETag
    (and, as always, without Last-Modified): a server whose content cannot be identified."""

    etag: bool = True


class _Handler(http.server.BaseHTTPRequestHandler):
    files: _Files = _Files()

    def log_message(self, *args: Any) -> None:
        pass

    def _head(self) -> bytes | None:
        data = self.files.get(self.path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
        wanted = self.headers.get("If-Match")
        if self.files.etag and wanted is not None and wanted not in (etag, "*"):
            self.send_response(412)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        if self.files.etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return data

    def do_HEAD(self) -> None:
        self._head()

    def do_GET(self) -> None:
        data = self._head()
        if data is not None:
            self.wfile.write(data)


@pytest.fixture(scope="session")
def _http_server() -> Iterator[tuple[str, _Files]]:
    files = _Files()
    handler = type("Handler", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_files(_http_server: tuple[str, _Files]) -> Iterator[tuple[str, _Files]]:
    """``(base_url, files)``: put ``files["/x.csv"] = b"..."`` and fetch ``base_url + "/x.csv"``."""
    _http_server[1].clear()
    _http_server[1].etag = True
    yield _http_server
    _http_server[1].clear()
    _http_server[1].etag = True


# ---- databases -----------------------------------------------------------------------------
# postgres_base_url, pg_url: in tests/conftest.py (shared with tests/core)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each shared-database test runs on one SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'registry.db'}"
    return str(request.getfixturevalue("pg_url"))


# ---- a PostgreSQL server of the test's own, which it may restart ---------------------------
# (the server: OwnPostgres in _scale_services.py)
@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    """A PostgreSQL server of this test module's own (skips without PostgreSQL's server
    binaries; under ``CI`` it fails instead)."""
    import tempfile

    bindir = _pg_bindir()
    if bindir is None:
        msg = f"no PostgreSQL server binaries (pg_ctl); set {PG_BIN_ENV}"
        if os.environ.get("CI"):
            pytest.fail(msg + ", and CI is: the fault tests must run in CI")
        pytest.skip(msg)
    base = Path(tempfile.mkdtemp(prefix="artiflow-pg-"))  # short: the socket path has a limit
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    server = OwnPostgres(bindir, base)
    try:
        server.init()
        server.start()
    except Exception as exc:  # e.g. no postgres user, no runuser
        shutil.rmtree(base, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"cannot start a PostgreSQL server of the test's own: {exc}")
        pytest.skip(f"cannot start a PostgreSQL server of the test's own: {exc}")
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
