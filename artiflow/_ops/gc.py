"""Garbage collection that never deletes a blob a version needs, and the writers' side of it.

**The race it closes.** gc lists the live digests and the store, and deletes what no version
needs. A writer that re-logs content whose blob is unreferenced finds that blob in the store,
skips the upload and commits; if gc deletes the blob after the writer looked, a COMMITTED version
points at nothing. Re-checking references just before each delete is not enough on its own (the
writer may look before the delete and commit after it), and neither is touching the blob (an
object store has no cheap touch, and gc's snapshot of ages is older).

**The protocol** (tables ``gc_state`` and ``gc_intents``, see :mod:`artiflow.catalog._gc`):

1. One gc run at a time (:meth:`~artiflow.catalog.Catalog.gc_run_lock`: PostgreSQL advisory
   lock / ``flock`` beside the SQLite file, both released when the process dies).
2. gc scans as before (stale pending versions, live digests, blob listing with ages).
3. ``gc_begin`` makes the epoch odd. Then per batch of candidates, each step one transaction
   holding the gc row exclusively:
   a. ``gc_intend`` re-checks the batch against the live digests and commits an *intent* row
      (tagged with the run's epoch) for every blob it may delete;
   b. ``gc_delete`` re-checks again and deletes, still inside the transaction, what no version
      needs now.
4. ``gc_end`` makes the epoch even again.

A writer (``log``/``log_many``, ``upsert``, ``finish``) reads the epoch E0 *before* it checks or
uploads any blob, and its commit transaction holds the gc row in share mode. If the epoch is
still E0 and even, no delete happened since the writer looked at the store: commit (the common
path: one extra indexed read). Otherwise the writer re-checks in the store, under the lock, the
blobs that an intent tagged E0 or later names (all of them when such old intents were pruned);
if one is gone, the commit rolls back and :func:`guarded` uploads it again and retries.

**Why it is absolute.** Take a blob X that a committed version V needs and a delete of X in
step 3b. Steps 3b and V's commit transaction exclude each other (the row lock). If V committed
first, 3b sees V and keeps X. If 3b ran first, its intent for X was committed in 3a, before
3b, tagged with the odd run epoch R: either the writer read E0 before 3a (E0 < R, the epoch
changed) or during the run (E0 = R, odd); both take the slow path, which finds the intent
(tag R >= E0) and checks X in the store while no delete can run, so V commits only while X
exists, and every later 3b sees V. A gc that dies mid-run leaves its intents and an odd epoch:
writers stay on the slow path for those blobs until the next run, which keeps the intents of
the run before it (``floor``). No clock, lease or grace period is part of the argument; the
grace period only decides which blobs are *candidates*.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> art = Artifact("notes", type="text")
    >>> with art.new_file("a.txt") as f:
    ...     _ = f.write("hello")
    >>> reg.log(art).delete()
    >>> reg.gc(grace_seconds=0).blobs_deleted
    1
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..catalog import BlobsGone, GCGuard, backoff
from ..exceptions import StoreError

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..registry import Registry

__all__ = ["GCResult", "collect", "guarded"]

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH = 500  # blobs per delete transaction: bounds how long writers wait for the gc row
ATTEMPTS = 20  # commits retried, with jittered backoff, after a gc removed a blob they re-use


@dataclass(frozen=True)
class GCResult:
    """What :meth:`Registry.gc` removed (or would remove, with ``dry_run``).

    ``kept`` counts candidates that a writer took into use while gc ran (found live at the
    re-check just before the delete, so left alone).

    Example:
        >>> GCResult(["ab" * 32], 5, 0, False).to_dict()["blobs_deleted"]
        1
    """

    blobs: list[str]
    bytes_freed: int
    pending_removed: int
    dry_run: bool
    kept: int = 0
    seconds: float = field(default=0.0, compare=False)

    @property
    def blobs_deleted(self) -> int:
        return len(self.blobs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``artiflow gc --json``)."""
        return {
            "dry_run": self.dry_run,
            "blobs_deleted": self.blobs_deleted,
            "bytes_freed": self.bytes_freed,
            "pending_removed": self.pending_removed,
            "kept": self.kept,
            "seconds": round(self.seconds, 3),
            "blobs": list(self.blobs),
        }


def guarded(reg: Registry | RegistryContext, attempt: Callable[[GCGuard], T]) -> T:
    """Run a commit ``attempt(guard)`` that checks or uploads blobs and then commits with
    ``gc_guard=guard``; when a concurrent gc removed a blob it re-uses, run it again (the new
    attempt finds the blob missing and uploads it).

    Example:
        >>> # rows = guarded(registry, lambda g: registry.catalog.commit_many(items, gc_guard=g))
    """
    gone: BlobsGone | None = None
    for tries in range(ATTEMPTS):
        guard = GCGuard(reg.catalog.gc_epoch(), reg.store.missing)  # BEFORE the store is read
        try:
            return attempt(guard)
        except BlobsGone as exc:
            gone = exc
            time.sleep(backoff(tries))  # let the gc pass finish rather than race it again
            log.warning(
                "gc removed %d blob(s) this commit re-uses (e.g. %s); uploading again",
                len(exc.digests),
                sorted(exc.digests)[0][:12],
            )
    assert gone is not None
    raise StoreError(
        f"a concurrent gc removed {len(gone.digests)} blob(s) this commit needs (e.g. "
        f"{sorted(gone.digests)[0][:12]}) {ATTEMPTS} times in a row; nothing was committed: "
        "log it again once gc has finished"
    )


def collect(
    reg: Registry | RegistryContext,
    *,
    dry_run: bool = False,
    grace_seconds: float | None = None,
    progress: Callable[[int], object] | None = None,
    before_delete: Callable[[list[str]], object] | None = None,
) -> GCResult:
    """The body of :meth:`Registry.gc` (see the module docstring for the protocol)."""
    started = time.monotonic()
    grace = reg.settings.pending_grace_seconds if grace_seconds is None else float(grace_seconds)
    now = time.time()
    cutoff = dt.datetime.fromtimestamp(now - grace, dt.timezone.utc)
    catalog, store = reg.catalog, reg.store

    def scan() -> dict[str, int]:
        live = catalog.live_digests(deleted_since=cutoff)
        return {
            d: size
            for d, mtime, size in store.iter_blob_info()
            if d not in live and mtime <= now - grace
        }

    if dry_run:
        sizes = scan()
        return GCResult(
            sorted(sizes), sum(sizes.values()), 0, True, seconds=time.monotonic() - started
        )
    removed: list[str] = []
    with catalog.gc_run_lock() as still_held:
        pending = catalog.remove_stale_pending(cutoff)
        sizes = scan()
        candidates = sorted(sizes)
        if before_delete is not None:
            before_delete(list(candidates))
        if candidates:
            run = catalog.gc_begin()
            try:
                for start in range(0, len(candidates), BATCH):
                    batch = candidates[start : start + BATCH]
                    victims = catalog.gc_intend(run, batch, cutoff)
                    if victims:
                        done, _rescued = catalog.gc_delete(
                            run, victims, cutoff, store.delete_many, still_held
                        )
                        removed += done
                    if progress is not None:
                        progress(len(batch))
            finally:
                catalog.gc_end(run)
        store.clean_tmp(older_than=grace)
    return GCResult(
        removed,
        sum(sizes[d] for d in removed),
        pending,
        False,
        kept=len(candidates) - len(removed),
        seconds=time.monotonic() - started,
    )
