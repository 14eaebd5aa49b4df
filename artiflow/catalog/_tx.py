"""The catalog's transactions: connect, read, write, and retry whole write transactions while
the database restarts (the base every domain mixin of :class:`~artiflow.catalog.Catalog` uses).

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> with cat.read() as conn:
    ...     conn.exec_driver_sql("SELECT 1").scalar()
    1
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ..exceptions import StoreError
from ._retry import backoff, is_transient, retry_seconds
from .engine import WRITE, single_read_options

__all__ = ["Transactions"]

_T = TypeVar("_T")


def _is_store_failure(exc: DBAPIError) -> bool:
    """A database error that is the database's fault, not the statement's: a lost or refused
    connection, a full disk, an I/O error (translated to :class:`StoreError`)."""
    if is_transient(exc):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(m in text for m in ("disk is full", "disk i/o error", "no space left", "read-only"))


class Transactions:
    """The engine, and read/write transactions that translate database failures."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.single_read = single_read_options(self.dialect)

    def close(self) -> None:
        """Dispose the engine's connections."""
        self.engine.dispose()

    def _connect(self, deadline: float) -> Connection:
        """A connection, waiting out a database that is restarting or briefly unreachable
        (transient errors are retried with backoff until ``deadline``)."""
        attempt = 0
        while True:
            try:
                return self.engine.connect()
            except DBAPIError as exc:
                if not is_transient(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise self._unavailable(exc, committed=False) from exc
            time.sleep(backoff(attempt))
            attempt += 1

    @contextmanager
    def _transaction(self, deadline: float, options: Mapping[str, Any]) -> Iterator[Connection]:
        """One transaction, untranslated: driver errors of the body and of COMMIT propagate."""
        with self._connect(deadline) as conn:
            if options:
                conn.execution_options(**options)
            with conn.begin():
                yield conn

    def _unavailable(
        self, exc: BaseException, *, committed: bool | None, waited: bool = True
    ) -> StoreError:
        """The :class:`StoreError` for a database error (ENOSPC-like and transient alike)."""
        where = self.engine.url.render_as_string(hide_password=True)
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0:1] or ["?"]
        if not is_transient(exc):
            full = any(m in cause[0].lower() for m in ("full", "no space"))
            hint = "free space on the disk that holds it, then retry" if full else "check it"
            return StoreError(
                f"the catalog database {where} failed: {cause[0]}; nothing was written. {hint}"
            )
        outcome = {
            False: "nothing was written",
            None: "the connection was lost while the transaction committed, so whether it was "
            "written is unknown: check before repeating it",
        }.get(committed, "")
        how = (
            f"did not come back within {retry_seconds():g} s (ARTIFLOW_DB_RETRY_SECONDS)"
            if waited
            else "the connection was lost in the middle of a transaction"
        )
        return StoreError(
            f"the catalog database {where} is unavailable ({cause[0]}): {how}; {outcome}. "
            "Retry once the database is reachable"
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (serialised on SQLite, row-locked on PostgreSQL).

        Opening it waits out a restarting database; a connection lost inside it raises
        :class:`StoreError` (the transaction was rolled back, or its outcome is unknown when the
        connection broke during COMMIT). :meth:`write_retrying` retries whole transactions."""
        deadline = time.monotonic() + retry_seconds()
        body_done = False
        try:
            with self._transaction(deadline, WRITE) as conn:
                yield conn
                body_done = True
        except DBAPIError as exc:
            if not _is_store_failure(exc):
                raise
            committed = None if body_done else False
            raise self._unavailable(exc, committed=committed, waited=False) from exc

    @contextmanager
    def read(self, conn: Connection | None = None, *, single: bool = False) -> Iterator[Connection]:
        """A read transaction (or ``conn``, when the caller already holds one). ``single``: the
        body runs ONE statement, so it needs no BEGIN/COMMIT round trips (autocommit); it still
        waits out a restarting database like every transaction."""
        if conn is not None:
            yield conn
            return
        deadline = time.monotonic() + retry_seconds()
        body_done = False
        try:
            with self._transaction(deadline, self.single_read if single else {}) as new:
                yield new
                body_done = True
        except DBAPIError as exc:
            if body_done and is_transient(exc):
                return  # only the COMMIT of a read failed: what was read stands
            if not _is_store_failure(exc):
                raise
            raise self._unavailable(exc, committed=False, waited=False) from exc

    def write_retrying(
        self,
        body: Callable[[Connection], _T],
        landed: Callable[[Connection, _T], bool] | None = None,
    ) -> _T:
        """Run ``body(conn)`` in a write transaction, retrying the WHOLE transaction with
        backoff while the database is restarting, unreachable or reports a serialization
        failure (see :mod:`._retry`). When the connection breaks during COMMIT the outcome is
        unknown: ``landed(conn, result)`` then says (in a fresh transaction) whether the
        attempt's writes are in the database, so a commit that did land is returned rather than
        repeated. Without ``landed`` such a commit raises :class:`StoreError`."""
        deadline = time.monotonic() + retry_seconds()
        attempt = 0
        while True:
            done: list[_T] = []
            try:
                with self._transaction(deadline, WRITE) as conn:
                    done.append(body(conn))
                return done[0]
            except DBAPIError as exc:
                if not is_transient(exc):
                    if _is_store_failure(exc):
                        raise self._unavailable(exc, committed=False) from exc
                    raise
                if done:  # the body ran and COMMIT failed: did it land?
                    if landed is None:
                        raise self._unavailable(exc, committed=None) from exc
                    if self._landed(landed, done[0], deadline, exc):
                        return done[0]
                if time.monotonic() >= deadline:
                    raise self._unavailable(exc, committed=False) from exc
            except StoreError:
                raise
            time.sleep(backoff(attempt))
            attempt += 1

    def _landed(
        self,
        landed: Callable[[Connection, _T], bool],
        result: _T,
        deadline: float,
        first: BaseException,
    ) -> bool:
        attempt = 0
        while True:
            try:
                with self._transaction(deadline, {}) as conn:
                    return landed(conn, result)
            except DBAPIError as exc:
                if not is_transient(exc) or time.monotonic() >= deadline:
                    raise self._unavailable(first, committed=None) from exc
            time.sleep(backoff(attempt))
            attempt += 1
