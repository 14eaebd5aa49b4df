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
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the worker module, importable in spawned processes too

# gcsfs reads this when it is imported; without it every call against the emulator stalls ~60 s
# on a gRPC bucket-type lookup
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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


class _Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``target_port``, with faults to order.

    * ``delay``: every chunk a client sends waits this long (the network round trip of a real
      object store, which moto on 127.0.0.1 does not have).
    * ``cut_rate``: each chunk a client sends is, with this probability, cut short: a random
      prefix of it is forwarded, then both sides of the connection are closed (a connection
      dropped mid-request, e.g. mid-upload). ``max_cuts`` bounds how many (None: no bound).
    * ``swallow_reply_to`` / ``swallow``: when a client chunk contains these bytes, it is
      forwarded whole, the server's reply is awaited and thrown away, and the connection is
      closed: the request was carried out but the client never learns it (``swallow`` times).

    ``cuts`` and ``swallowed`` count what was done; ``port`` (default: a free one) is where
    the proxy listens.
    """

    def __init__(
        self,
        target_port: int,
        delay: float = 0.0,
        *,
        cut_rate: float = 0.0,
        max_cuts: int | None = None,
        swallow_reply_to: bytes | None = None,
        swallow: int = 0,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        import random

        self.target_port = target_port
        self.delay = delay
        self.cut_rate = cut_rate
        self.max_cuts = max_cuts
        self.swallow_reply_to = swallow_reply_to
        self.swallow_left = swallow
        self.cuts = 0
        self.swallowed = 0
        self._rnd = random.Random(seed)
        self._lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = int(self.sock.getsockname()[1])
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            state = {"swallow": False}
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, up, state, (client, upstream)), daemon=True
                ).start()

    def _decide(self, data: bytes) -> tuple[str, int]:
        with self._lock:
            if (
                self.swallow_reply_to is not None
                and self.swallow_left > 0
                and self.swallow_reply_to in data
            ):
                self.swallow_left -= 1
                return "swallow", len(data)
            budget = self.max_cuts is None or self.cuts < self.max_cuts
            if self.cut_rate and budget and self._rnd.random() < self.cut_rate:
                self.cuts += 1
                return "cut", self._rnd.randrange(len(data))
        return "pass", len(data)

    def _pump(
        self,
        src: socket.socket,
        dst: socket.socket,
        upstream: bool,
        state: dict[str, bool],
        both: tuple[socket.socket, socket.socket],
    ) -> None:
        try:
            while data := src.recv(65536):
                if not upstream:
                    if state["swallow"]:  # the reply to the swallowed request: drop it all
                        with self._lock:
                            self.swallowed += 1
                        break
                    dst.sendall(data)
                    continue
                if self.delay:
                    time.sleep(self.delay)
                what, keep = self._decide(data)
                if what == "swallow":
                    state["swallow"] = True
                dst.sendall(data[:keep])
                if what == "cut":
                    break
        except OSError:
            pass
        finally:
            for s in both:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):  # wakes the accept() blocked in the other thread
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


_LatencyProxy = _Proxy  # the old name


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
PG_BIN_ENV = "ARTIFLOW_TEST_PG_BIN"  # the folder of initdb/pg_ctl (default: PostgreSQL 15..17)


class OwnPostgres:
    """A throwaway PostgreSQL server (``initdb`` in a temporary folder, a free port, trust
    authentication), run as user ``postgres`` when the tests run as root. Restarting it never
    touches the machine's shared server."""

    def __init__(self, bindir: Path, base: Path) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        full = [str(self.bindir / cmd[0]), *cmd[1:]]
        if os.geteuid() == 0:
            full = ["runuser", "-u", "postgres", "--", *full]
        out = subprocess.run(full, capture_output=True, text=True, timeout=timeout, cwd=self.base)
        if out.returncode:
            raise RuntimeError(f"{' '.join(full)} failed: {out.stdout}{out.stderr}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _ctl(self, *args: str) -> None:
        log = str(self.base / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", log, *args)

    def start(self) -> None:
        self._ctl("-w", "-t", "60", "start")

    def restart(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "-t", "60", "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200 -c shared_buffers=16MB"
        )

    def new_database(self) -> str:
        """A fresh database on this server; its URL."""
        from sqlalchemy import create_engine, text

        name = f"t_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url.replace("/postgres?", f"/{name}?")


def _pg_bindir() -> Path | None:
    candidates = [os.environ.get(PG_BIN_ENV, "")]
    candidates += [f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15, 14)]
    for c in candidates:
        if c and (Path(c) / "pg_ctl").exists():
            return Path(c)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


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
