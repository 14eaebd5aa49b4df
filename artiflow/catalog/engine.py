"""Create SQLAlchemy engines for the catalog: SQLite (WAL, busy timeout, BEGIN IMMEDIATE for
writes) or PostgreSQL (psycopg 3; pooled connections pinged before use, recycled after 30 min).

What to do when the database goes away (a restart, a dropped connection) is the catalog's
business: :meth:`artiflow.catalog.catalog.Catalog.write` and friends retry transient errors
(:mod:`artiflow.catalog._retry`).

Example:
    >>> e = create_engine_for("sqlite://")
    >>> e.dialect.name
    'sqlite'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from .._sqlite import enable_wal
from ..exceptions import StoreError

__all__ = ["WRITE", "create_engine_for", "single_read_options"]

WRITE = {"artiflow_write": True}


def single_read_options(dialect: str) -> dict[str, Any]:
    """Execution options for a read of ONE statement: no BEGIN/COMMIT round trips (SQLite runs
    it in autocommit through our begin hook; PostgreSQL in the driver's autocommit mode)."""
    if dialect == "postgresql":
        return {"isolation_level": "AUTOCOMMIT"}
    return {"artiflow_single_read": True}


SQLITE_TIMEOUT_S = 60


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and write transactions that take the
    write lock up front (``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing.

    Example:
        >>> create_engine_for("sqlite:///:memory:").dialect.name
        'sqlite'
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        db = parsed.database
        memory = db in (None, "", ":memory:")
        if not memory:
            Path(str(db)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        opts: dict[str, Any] = {
            "connect_args": {"timeout": SQLITE_TIMEOUT_S, "check_same_thread": False}
        }
        if memory:
            opts["poolclass"] = StaticPool
        engine = sa_create_engine(parsed, **opts, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            if not memory:
                enable_wal(dbapi_conn)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_S * 1000}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            options = conn.get_execution_options()
            if options.get("artiflow_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif not options.get("artiflow_single_read"):  # one-statement reads need no BEGIN
                conn.exec_driver_sql("BEGIN")

        return engine
    if backend == "postgresql":
        try:
            # a pooled connection is pinged before use (a restarted server's old connections
            # are replaced, not handed out), recycled after 30 min (idle-killing proxies), and
            # a connection attempt gives up after 10 s so that the retry loop can go on
            connect_args = {"connect_timeout": 10, **kwargs.pop("connect_args", {})}
            kwargs.setdefault("pool_pre_ping", True)
            kwargs.setdefault("pool_recycle", 1800)
            return sa_create_engine(parsed, connect_args=connect_args, **kwargs)
        except ImportError as exc:
            raise StoreError(
                f"cannot open {parsed.render_as_string(hide_password=True)}: {exc}. "
                "Install it with: pip install 'artiflow[postgres]'"
            ) from exc
    return sa_create_engine(parsed, **kwargs)
