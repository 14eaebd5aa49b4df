"""The catalog side of a safe gc: the coordination row, the delete intents, the writers' guard.

The protocol (the whole argument is in :mod:`artiflow._ops.gc`):

* ``gc_state.epoch`` is odd while a gc run may delete blobs and even between runs. Every gc
  write transaction locks that row exclusively (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
  write transactions are serialised by ``BEGIN IMMEDIATE``).
* Before a gc deletes a blob it commits an *intent* row for it, tagged with the run's epoch;
  it then deletes, in a second transaction that still holds the row lock, only the blobs that
  no version needs at that moment.
* A writer reads the epoch before it looks at the store (:meth:`GCCatalog.gc_epoch`). Its commit
  transaction takes the row in share mode (:meth:`GCCatalog.gc_check`): an unchanged, even
  epoch proves no gc deleted anything since (one indexed read). Otherwise the intents tagged
  since then that name one of its blobs are re-checked in the store, under the lock; a blob that
  is gone aborts the commit (:class:`BlobsGone`), the writer uploads it again and retries.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> cat.gc_epoch()
    0
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, or_, select, text, update

from ..exceptions import ConflictError
from ._rows import chunks
from ._tx import Transactions
from .models import entries, gc_intents, gc_state, versions

if TYPE_CHECKING:
    from ..manifest import Entry

__all__ = ["BlobsGone", "GCCatalog", "GCGuard"]

_PG_LOCK = 0x61726769636F6C  # "argicol": one gc run at a time per PostgreSQL database
_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


class BlobsGone(Exception):  # an internal signal: never leaves artiflow
    """A commit found blobs it needs deleted by a concurrent gc (rolled back; upload, retry)."""

    def __init__(self, digests: set[str]) -> None:
        super().__init__(f"{len(digests)} blobs were garbage-collected while being re-used")
        self.digests = digests


@dataclass
class GCGuard:
    """What a writer carries into its commit transaction: the gc epoch it read before it looked
    at the store, and how to ask the store which blobs are gone."""

    epoch: int
    missing: Callable[[set[str]], set[str]]
    rechecked: int = 0  # blobs re-checked in the store under the lock (0 on the common path)


def alive_clause(deleted_since: dt.datetime | None) -> Any:
    """Versions whose blobs gc keeps: committed, pending, the targets of live registry links,
    and (with ``deleted_since``) versions deleted since then."""
    linked = select(versions.c.target_id).where(
        versions.c.target_id.is_not(None), versions.c.state != "DELETED"
    )
    alive = or_(versions.c.state.in_(["COMMITTED", "PENDING"]), versions.c.id.in_(linked))
    if deleted_since is not None:
        alive = or_(alive, versions.c.deleted_at >= deleted_since)
    return alive


class GCCatalog(Transactions):
    """Mixin of :class:`~artiflow.catalog.Catalog`: gc coordination and the writers' guard."""

    # ---- writers ------------------------------------------------------------------------
    def gc_epoch(self) -> int:
        """The gc epoch now: read by every writer BEFORE it checks or puts blobs.

        Example:
            >>> # guard = GCGuard(catalog.gc_epoch(), store.missing)
        """
        # one statement: autocommit (no BEGIN/COMMIT round trips), and it waits out a
        # restarting database like every transaction
        with self.read(single=True) as conn:
            value = conn.execute(select(gc_state.c.epoch).where(gc_state.c.id == 1)).scalar()
        return int(value or 0)

    def gc_check(self, conn: Connection, guard: GCGuard, items: Iterable[Entry]) -> None:
        """Inside a writer's commit transaction: hold the gc row in share mode (no gc deletes
        until this transaction ends) and prove that every blob of ``items`` is in the store.
        Raises :class:`BlobsGone` (the transaction then rolls back) for blobs that are not."""
        q = select(gc_state.c.epoch, gc_state.c.floor).where(gc_state.c.id == 1)
        if self.dialect == "postgresql":
            q = q.with_for_update(read=True)
        row = conn.execute(q).first()
        epoch = int(row.epoch) if row is not None else 0
        if epoch == guard.epoch and epoch % 2 == 0:
            return  # the common path: no gc deleted anything since the writer looked
        digests = sorted({e.digest for e in items if e.ref is None and e.digest})
        if not digests:
            return
        if row is None or guard.epoch < int(row.floor):
            flagged = set(digests)  # the intents of that time were pruned: check everything
        else:
            flagged = set()
            for chunk in chunks(digests):
                flagged.update(
                    d
                    for (d,) in conn.execute(
                        select(gc_intents.c.digest).where(
                            gc_intents.c.digest.in_(chunk), gc_intents.c.epoch >= guard.epoch
                        )
                    )
                )
        if not flagged:
            return
        guard.rechecked += len(flagged)
        gone = guard.missing(flagged)
        if gone:
            raise BlobsGone(gone)

    def live_digests(self, deleted_since: dt.datetime | None = None) -> set[str]:
        """Digests of blobs that a committed or pending version, or a live link, needs; with
        ``deleted_since``, also those of versions deleted since then (a writer may be re-using
        such a blob right now: it saw it present and skipped the upload)."""
        q = (
            select(entries.c.digest)
            .distinct()
            .join(versions, versions.c.id == entries.c.version_id)
            .where(
                entries.c.ref.is_(None),
                entries.c.digest.is_not(None),
                alive_clause(deleted_since),
            )
        )
        with self.read() as conn:
            return {d for (d,) in conn.execute(q)}

    # ---- gc -----------------------------------------------------------------------------
    @contextmanager
    def gc_run_lock(self) -> Iterator[Callable[[], None]]:
        """Hold the one-gc-at-a-time lock for a gc run; yields a check that raises when the lock
        was lost (PostgreSQL: the session's advisory lock; SQLite: a ``flock`` beside the file,
        both released by the operating system or the server when the process dies).

        Example:
            >>> # with catalog.gc_run_lock() as still_held: ...
        """
        busy = ConflictError(
            "another gc is running on this registry; wait for it to finish (one gc at a time)"
        )
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                if not conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK}
                ).scalar():
                    raise busy

                def still_held() -> None:
                    held = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                            "AND pid = pg_backend_pid() AND granted "
                            "AND ((classid::bigint << 32) | objid::bigint) = :k"
                        ),
                        {"k": _PG_LOCK},
                    ).scalar()
                    if not held:
                        raise ConflictError("gc lost its lock on the catalog; run it again")

                try:
                    yield still_held
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
            return
        db = self.engine.url.database
        if self.dialect == "sqlite" and db not in (None, "", ":memory:"):
            import fcntl

            fd = os.open(f"{db}.gc-lock", os.O_CREAT | os.O_RDWR, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise busy from None
                yield lambda: None
            finally:
                os.close(fd)  # releases the flock
            return
        with _LOCAL_LOCKS_GUARD:
            lock = _LOCAL_LOCKS.setdefault(str(id(self.engine)), threading.Lock())
        if not lock.acquire(blocking=False):
            raise busy
        try:
            yield lambda: None
        finally:
            lock.release()

    def _lock_gc_row(self, conn: Connection) -> Any:
        q = select(gc_state.c.epoch, gc_state.c.floor).where(gc_state.c.id == 1)
        if self.dialect == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:  # a catalog created without the migration's row
            conn.execute(insert(gc_state).values(id=1, epoch=0, floor=0))
            row = conn.execute(q).first()
        return row

    def gc_begin(self) -> int:
        """Open a gc run (under :meth:`gc_run_lock`): make the epoch odd and prune intents no
        writer can need any more. Returns the run's epoch."""
        with self.write() as conn:
            row = self._lock_gc_row(conn)
            epoch = int(row.epoch)
            # odd already: a previous run died in its delete phase; its intents stay valid
            run = epoch + 2 if epoch % 2 else epoch + 1
            floor = max(int(row.floor), run - 3)  # keep the intents of the previous run
            conn.execute(delete(gc_intents).where(gc_intents.c.epoch < floor))
            conn.execute(update(gc_state).where(gc_state.c.id == 1).values(epoch=run, floor=floor))
            return run

    def gc_end(self, run: int) -> None:
        """Close the gc run ``run`` (the epoch becomes even: writers are back on the fast path)."""
        with self.write() as conn:
            row = self._lock_gc_row(conn)
            if int(row.epoch) == run:
                conn.execute(update(gc_state).where(gc_state.c.id == 1).values(epoch=run + 1))

    def _alive_of(
        self, conn: Connection, digests: Sequence[str], deleted_since: dt.datetime | None
    ) -> set[str]:
        alive: set[str] = set()
        for chunk in chunks(digests):
            q = (
                select(entries.c.digest)
                .distinct()
                .join(versions, versions.c.id == entries.c.version_id)
                .where(entries.c.digest.in_(chunk), entries.c.ref.is_(None))
                .where(alive_clause(deleted_since))
            )
            alive.update(d for (d,) in conn.execute(q))
        return alive

    def gc_intend(
        self, run: int, digests: Sequence[str], deleted_since: dt.datetime | None
    ) -> list[str]:
        """Phase 1 of deleting a batch: commit intents for the ``digests`` no version needs now.
        Returns them."""
        with self.write() as conn:
            row = self._lock_gc_row(conn)
            if int(row.epoch) != run:
                raise ConflictError("the gc run was superseded by another gc; run gc again")
            alive = self._alive_of(conn, digests, deleted_since)
            victims = [d for d in digests if d not in alive]
            now = dt.datetime.now(dt.timezone.utc)
            for chunk in chunks(victims):
                conn.execute(delete(gc_intents).where(gc_intents.c.digest.in_(chunk)))
                conn.execute(
                    insert(gc_intents), [{"digest": d, "epoch": run, "at": now} for d in chunk]
                )
            return victims

    def gc_delete(
        self,
        run: int,
        victims: Sequence[str],
        deleted_since: dt.datetime | None,
        remove: Callable[[list[str]], object],
        still_held: Callable[[], None] = lambda: None,
    ) -> tuple[list[str], list[str]]:
        """Phase 2: holding the gc row exclusively (no writer commits meanwhile), re-check
        ``victims`` and ``remove`` from the store those that still no version needs. Returns
        ``(removed, rescued)``: rescued blobs were taken into use by a writer since phase 1."""
        with self.write() as conn:
            row = self._lock_gc_row(conn)
            if int(row.epoch) != run:
                raise ConflictError("the gc run was superseded by another gc; run gc again")
            still_held()
            alive = self._alive_of(conn, victims, deleted_since)
            rescued = [d for d in victims if d in alive]
            doomed = [d for d in victims if d not in alive]
            for chunk in chunks(rescued):  # live blobs exist (writers proved it): no intent
                conn.execute(delete(gc_intents).where(gc_intents.c.digest.in_(chunk)))
            if doomed:
                remove(doomed)  # inside the transaction: writers wait for the row lock
            return doomed, rescued
