"""Scratch PostgreSQL databases for the tests (``pg_url`` in tests/conftest.py), made ahead and
dropped behind the test in a thread of their own.

``CREATE DATABASE`` and ``DROP DATABASE ... WITH (FORCE)`` each take a good part of a second on
the server (more when it is busy) and the test only waits on them. A database made before the test
asked for it is as empty as one made when it asked (a copy of ``template1``, never connected to),
so a background thread keeps ``ahead`` of them ready and drops the used ones while the next test
runs. A failed drop is not lost: ``close()`` (at the end of the session) returns it.

    scratch = ScratchDatabases(make_url("postgresql+psycopg://postgres@127.0.0.1/postgres"))
    name = scratch.take()   # a fresh, empty database on that server
    ...
    scratch.drop(name)      # returns at once
    errors = scratch.close()  # waits for the drops; [] when all went well
"""

from __future__ import annotations

import threading
import uuid
from typing import Any


class ScratchDatabases:
    """Fresh, empty databases on the server of ``base`` (a SQLAlchemy URL, driver included)."""

    def __init__(self, base: Any, ahead: int = 2, prefix: str = "artiflow_test_") -> None:
        from sqlalchemy import create_engine

        self.base = base
        self.ahead = ahead
        self.prefix = prefix
        self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
        self._cv = threading.Condition()
        self._ready: list[str] = []  # made, never handed out
        self._drops: list[str] = []  # handed out and given back
        self._errors: list[str] = []
        self._make_ahead = True  # off after a failed CREATE (e.g. no CREATEDB right)
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="scratch-databases", daemon=True)
        self._thread.start()

    def _create(self) -> str:
        from sqlalchemy import text

        name = f"{self.prefix}{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return name

    def _drop(self, name: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._drops and not (
                    not self._closing and self._make_ahead and len(self._ready) < self.ahead
                ):
                    if self._closing:
                        return
                    self._cv.wait()
                # a test may be waiting for a database now; the drops can wait
                make = not self._closing and self._make_ahead and not self._ready
                name = self._drops.pop(0) if self._drops and not make else None
            if name is not None:
                try:
                    self._drop(name)
                except Exception as exc:  # reported by close()
                    with self._cv:
                        self._errors.append(f"DROP DATABASE {name}: {type(exc).__name__}: {exc}")
                continue
            try:
                made = self._create()
            except Exception:  # take() creates in the test, where the error is handled
                with self._cv:
                    self._make_ahead = False
                continue
            with self._cv:
                (self._drops if self._closing else self._ready).append(made)
                self._cv.notify_all()

    def take(self) -> str:
        """The name of a fresh, empty database (made now when none is ready; its errors,
        e.g. sqlalchemy's ProgrammingError without the CREATEDB right, reach the caller)."""
        with self._cv:
            if self._ready:
                name = self._ready.pop(0)
                self._cv.notify_all()  # make the next one
                return name
        return self._create()

    def drop(self, name: str) -> None:
        """Drop the database ``name`` (closing its connections) in the background."""
        with self._cv:
            self._drops.append(name)
            self._cv.notify_all()

    def close(self) -> list[str]:
        """Drop the ready databases, wait for every drop; the drops that failed."""
        with self._cv:
            self._closing = True
            self._drops.extend(self._ready)
            self._ready.clear()
            self._cv.notify_all()
        self._thread.join(timeout=300)
        self.admin.dispose()
        return list(self._errors)
