"""SQLite helpers shared by the catalog and the stat cache.

Example:
    >>> import sqlite3
    >>> enable_wal(sqlite3.connect(":memory:"))
    'memory'
"""

from __future__ import annotations

import random
import sqlite3
import time
from typing import Any

__all__ = ["enable_wal"]


def enable_wal(conn: Any, timeout: float = 60.0) -> str:
    """Put the database in WAL mode and return the journal mode in force.

    WAL is persistent, so a file already in WAL needs no lock; switching needs an exclusive lock
    that SQLite may refuse with "database is locked" without waiting on the busy handler (several
    processes opening a new database at once). So: read the mode first, and retry the switch.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode in ("wal", "memory"):
                return mode
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.05)
