"""The servers of the scale tests, importable by name (``from _scale_services import
OwnPostgres``): a test module must not import ``conftest``, which names another folder's
conftest when pytest collects several test folders at once.

A fault-injecting TCP proxy (``_Proxy``), a PostgreSQL server of a test's own (``OwnPostgres``)
and small helpers (a free port, waiting for one, temporary environment variables). The fixtures
that use them are in this folder's conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path


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
