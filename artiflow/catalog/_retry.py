"""Which database errors are transient, and how long to wait before trying again.

A transient error is one that a later attempt of the same transaction can get past: the server
restarting or shutting down (``57P01``/``57P02``/``57P03``), a lost connection (``08…``, or
SQLAlchemy saw a disconnect), a serialization failure or deadlock (``40001``/``40P01``), too
many connections (``53300``), SQLite's "database is locked" outliving the busy timeout. Anything
else (a constraint, a wrong password, a missing database) is not, and is never retried.

Example:
    >>> backoff(0) <= 0.1 and backoff(20) <= MAX_BACKOFF_S
    True
"""

from __future__ import annotations

import os
import random

from ..exceptions import StoreError

__all__ = ["MAX_BACKOFF_S", "backoff", "is_transient", "retry_seconds"]

RETRY_ENV = "ARTIFLOW_DB_RETRY_SECONDS"
DEFAULT_RETRY_S = 60.0
MAX_BACKOFF_S = 2.0
_STATES = {"57P01", "57P02", "57P03", "40001", "40P01", "53300", "08000", "08001", "08003"}
_STATES |= {"08004", "08006", "08007"}
# libpq/psycopg messages of a server that is away, restarting or not yet accepting connections
_MESSAGES = (
    "connection refused",
    "could not connect",
    "server closed the connection",
    "connection is closed",
    "connection is lost",
    "connection not open",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "consuming input failed",
    "ssl syscall error",
    "timeout expired",
    "no such file or directory",  # the unix socket of a restarting server
    "database is locked",
    "database table is locked",
)


def retry_seconds() -> float:
    """How long transient database errors are retried (``ARTIFLOW_DB_RETRY_SECONDS``, 60 s)."""
    raw = os.environ.get(RETRY_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_RETRY_S
    except ValueError:
        raise StoreError(
            f"{RETRY_ENV}={raw!r} is not a number of seconds; set it to e.g. 60"
        ) from None
    return max(0.0, value)


def backoff(attempt: int) -> float:
    """Seconds to sleep before retry ``attempt`` (0-based): exponential from 50 ms, capped at
    :data:`MAX_BACKOFF_S`, with full jitter so that many writers do not return in step."""
    return float(random.uniform(0.5, 1.0) * min(MAX_BACKOFF_S, 0.05 * 2 ** min(attempt, 10)))


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (a SQLAlchemy ``DBAPIError`` or a driver error) may pass on retry."""
    if getattr(exc, "connection_invalidated", False):
        return True
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state:
        return str(state) in _STATES or str(state).startswith("08")
    if type(orig).__name__ not in ("OperationalError", "InterfaceError"):
        return False
    text = str(orig).lower()
    return any(m in text for m in _MESSAGES)
