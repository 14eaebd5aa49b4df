"""``fsck``: check the stored blobs every live version needs, report and repair the damaged ones.

Every blob a COMMITTED or PENDING version references (or a random sample of them) is read whole
and hashed. A blob that is absent is *missing*; one whose content does not hash to its name
(flipped bits, truncated, appended to, emptied, replaced) is *corrupt*. Each problem names the
versions it breaks (ref and entry path). With ``repair=True`` a good copy is looked for, in this
order, and verified before it is put back: the store's own ``quarantine/`` copies of that blob (a
read that was wrongly judged corrupt), the local download cache (object stores), then every store
given in ``sources`` (``artiflow fsck --from URL``). A corrupt blob with no good copy anywhere is
moved aside into ``quarantine/`` (never deleted), so it counts as missing and the next log of that
content stores it again. ``repair=False`` only reads.

The result's JSON shape (:meth:`FsckResult.to_dict`)::

    {"ok": false, "checked": 12, "total": 12, "sampled": false, "repair": true,
     "bytes_checked": 4096, "repaired": 1, "unrepaired": 1,
     "problems": [{"digest": "ab12…", "kind": "corrupt", "size": 5, "found": "9f00…",
                   "found_size": 7, "repaired": false, "repaired_from": null,
                   "quarantined": "/home/me/.artiflow/objects/quarantine/ab12….20261202T…Z-…",
                   "versions": [{"ref": "default/ds:v0", "path": "a.txt", "state": "COMMITTED"}]}]}

``ok`` is true when no problem was found; ``artiflow fsck`` exits 0 then, and 1 otherwise
(also when every problem was repaired: damage happened, and the JSON says what was done).

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("ds")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("alpha")
    >>> _ = reg.log(draft)
    >>> result = reg.fsck()
    >>> result.ok, result.checked
    (True, 1)
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidRefError, StoreError, VerificationError
from ..hashing import hash_file
from ..store import BlobStore

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..registry import Registry

__all__ = ["BrokenEntry", "FsckPlan", "FsckProblem", "FsckResult", "fsck", "plan", "run"]

Progress = Callable[[int], object] | None


@dataclass(frozen=True)
class BrokenEntry:
    """One entry of a version that a damaged blob breaks."""

    ref: str  # "project/name:v3", or "project/name (pending <distributed id>)"
    path: str
    state: str

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "path": self.path, "state": self.state}


@dataclass
class FsckProblem:
    """A missing or corrupt blob, the versions it breaks, and what was done about it."""

    digest: str
    kind: str  # "missing" or "corrupt"
    size: int | None  # the size the versions recorded
    found: str | None = None  # what the content hashes to (corrupt)
    found_size: int | None = None
    versions: list[BrokenEntry] = field(default_factory=list)
    repaired: bool = False
    repaired_from: str | None = None  # "quarantine", "cache" or a store URL
    quarantined: str | None = None  # where the corrupt content was moved aside

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "kind": self.kind,
            "size": self.size,
            "found": self.found,
            "found_size": self.found_size,
            "repaired": self.repaired,
            "repaired_from": self.repaired_from,
            "quarantined": self.quarantined,
            "versions": [v.to_dict() for v in self.versions],
        }


@dataclass
class FsckResult:
    """What :meth:`Registry.fsck` checked and found (see the module docstring for the JSON)."""

    checked: int
    total: int
    bytes_checked: int
    sampled: bool
    repair: bool
    problems: list[FsckProblem]

    @property
    def ok(self) -> bool:
        """True when every checked blob was intact."""
        return not self.problems

    @property
    def unrepaired(self) -> list[FsckProblem]:
        return [p for p in self.problems if not p.repaired]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "total": self.total,
            "sampled": self.sampled,
            "repair": self.repair,
            "bytes_checked": self.bytes_checked,
            "repaired": len(self.problems) - len(self.unrepaired),
            "unrepaired": len(self.unrepaired),
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class FsckPlan:
    """The blobs one fsck run checks: ``(digest, expected size)``, and how many exist."""

    blobs: list[tuple[str, int | None]]
    total: int

    @property
    def bytes(self) -> int:
        return sum(size or 0 for _, size in self.blobs)

    @property
    def sampled(self) -> bool:
        return len(self.blobs) < self.total


def _sample_count(sample: int | float | str | None, total: int) -> int:
    if sample is None:
        return total
    value: int | float = sample  # type: ignore[assignment]
    if isinstance(sample, str):
        try:
            value = int(sample)
        except ValueError:
            try:
                value = float(sample)
            except ValueError:
                value = -1
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidRefError(
            f"invalid sample {sample!r}: give a number of blobs (e.g. 100) or a fraction "
            "between 0 and 1 (e.g. 0.1)"
        )
    if isinstance(value, float) and value <= 1:
        return min(total, math.ceil(value * total))
    if isinstance(value, float) and not value.is_integer():
        raise InvalidRefError(f"invalid sample {sample!r}: a fraction is at most 1")
    return min(total, int(value))


def plan(
    registry: Registry | RegistryContext,
    sample: int | float | str | None = None,
    *,
    seed: int | None = None,
) -> FsckPlan:
    """The blobs to check: every blob a live version needs, or a random ``sample`` of them (a
    count, or a fraction of at most 1).

    Example:
        >>> # plan(registry, sample=0.1).blobs
    """
    from sqlalchemy import func, select

    from ..catalog.catalog import COMMITTED, PENDING
    from ..catalog.models import entries, versions

    q = (
        select(entries.c.digest, func.max(entries.c.size))
        .join(versions, versions.c.id == entries.c.version_id)
        .where(
            entries.c.ref.is_(None),
            entries.c.digest.is_not(None),
            versions.c.state.in_([COMMITTED, PENDING]),
        )
        .group_by(entries.c.digest)
    )
    with registry.catalog.read() as conn:
        blobs = sorted((str(d), None if s is None else int(s)) for d, s in conn.execute(q))
    total = len(blobs)
    count = _sample_count(sample, total)
    if count < total:
        blobs = sorted(random.Random(seed).sample(blobs, count))
    return FsckPlan(blobs, total)


def _broken(registry: Registry | RegistryContext, digest: str) -> list[BrokenEntry]:
    from sqlalchemy import select

    from ..catalog.catalog import COMMITTED, PENDING
    from ..catalog.models import collections, entries, versions

    q = (
        select(
            collections.c.project,
            collections.c.name,
            versions.c.idx,
            versions.c.state,
            versions.c.distributed_id,
            entries.c.path,
        )
        .join(versions, versions.c.id == entries.c.version_id)
        .join(collections, collections.c.id == versions.c.collection_id)
        .where(
            entries.c.digest == digest,
            entries.c.ref.is_(None),
            versions.c.state.in_([COMMITTED, PENDING]),
        )
        .order_by(collections.c.project, collections.c.name, versions.c.idx, entries.c.path)
    )
    out = []
    with registry.catalog.read() as conn:
        for project, name, idx, state, distributed_id, path in conn.execute(q):
            ref = (
                f"{project}/{name}:v{idx}"
                if idx is not None
                else f"{project}/{name} (pending {distributed_id})"
            )
            out.append(BrokenEntry(ref, path, state))
    return out


def _check(
    store: BlobStore, digest: str, size: int | None, progress: Progress
) -> FsckProblem | None:
    found = store.hash_blob(digest, progress=progress)
    if found is None:
        if progress is not None and size:
            progress(size)
        return FsckProblem(digest, "missing", size)
    if found[0] != digest:
        return FsckProblem(digest, "corrupt", size, found=found[0], found_size=found[1])
    return None


def _hash_any(store: BlobStore, path: str) -> str | None:
    try:
        if store.is_local:
            return hash_file(path)[0]
        from ..hashing import hash_stream

        with store.fs.open(path, "rb") as fh:
            return hash_stream(fh)[0]
    except OSError:
        return None


def _put_back(store: BlobStore, problem: FsckProblem, good: str) -> None:
    """Store the verified local file ``good`` as the blob of ``problem``."""
    if problem.kind == "corrupt" and problem.quarantined is None:
        problem.quarantined = store.quarantine(problem.digest)
    digest, _ = store.put_file(good)
    if digest != problem.digest:  # pragma: no cover - every source was verified
        raise VerificationError(f"repair copy of {problem.digest} changed while it was stored")


def _repair(
    registry: Registry | RegistryContext,
    store: BlobStore,
    problem: FsckProblem,
    sources: Sequence[BlobStore],
) -> None:
    digest = problem.digest
    # 1. a copy in this store's quarantine that verifies (a read was wrongly judged corrupt)
    aside = store.quarantined().get(digest, [])
    for path in aside:
        if _hash_any(store, path) != digest:
            continue
        if problem.kind == "corrupt":
            problem.quarantined = store.quarantine(digest)
        if store.is_local:
            os.makedirs(os.path.dirname(store.path(digest)), exist_ok=True)
            os.replace(path, store.path(digest))
        else:
            store.fs.copy(path, store.path(digest))
        problem.repaired, problem.repaired_from = True, "quarantine"
        return
    if aside and problem.kind == "missing":
        problem.quarantined = aside[-1]  # where a read moved the corrupt content
    # 2. the download cache, 3. the stores given as sources: fetched verified, then stored
    candidates: list[tuple[str, BlobStore]] = []
    cache_dir = registry.settings.cache_dir
    if not store.is_local and os.path.isdir(cache_dir):
        candidates.append(("cache", BlobStore(str(cache_dir))))
    candidates.extend((src.url, src) for src in sources)
    tmp_dir = tempfile.mkdtemp(prefix="artiflow-fsck-")
    try:
        for label, src in candidates:
            tmp = Path(tmp_dir) / digest
            try:
                if not src.exists(digest):
                    continue
                src.get_file(digest, tmp)  # verified on the way: a corrupt copy raises
            except (StoreError, VerificationError):
                continue
            _put_back(store, problem, str(tmp))
            problem.repaired, problem.repaired_from = True, label
            return
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    # no good copy: move the corrupt one aside, so the next log of that content stores it again
    if problem.kind == "corrupt" and problem.quarantined is None:
        with contextlib.suppress(FileNotFoundError):
            problem.quarantined = store.quarantine(digest)


def run(
    registry: Registry | RegistryContext,
    todo: FsckPlan,
    *,
    repair: bool = True,
    progress: Progress = None,
    sources: Iterable[str | BlobStore] = (),
) -> FsckResult:
    """Check the blobs of ``todo`` (see :func:`plan`), then repair what can be repaired.

    Example:
        >>> # run(registry, plan(registry), repair=False).to_dict()["problems"]
    """
    store = registry.store
    stores = [
        s if isinstance(s, BlobStore) else BlobStore(s, registry.settings.storage_options)
        for s in sources
    ]
    workers = store.max_concurrency if not store.is_local else min(4, os.cpu_count() or 1)

    def one(item: tuple[str, int | None]) -> FsckProblem | None:
        return _check(store, item[0], item[1], progress)

    if len(todo.blobs) <= 1 or workers <= 1:
        found = [one(i) for i in todo.blobs]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(todo.blobs))) as pool:
            found = list(pool.map(one, todo.blobs))
    problems = [p for p in found if p is not None]
    for problem in problems:
        problem.versions = _broken(registry, problem.digest)
        if repair:
            _repair(registry, store, problem, stores)
    return FsckResult(
        checked=len(todo.blobs),
        total=todo.total,
        bytes_checked=todo.bytes,
        sampled=todo.sampled,
        repair=repair,
        problems=problems,
    )


def fsck(
    registry: Registry | RegistryContext,
    sample: int | float | str | None = None,
    repair: bool = True,
    progress: Progress = None,
    *,
    sources: Iterable[str | BlobStore] = (),
    seed: int | None = None,
) -> FsckResult:
    """:func:`plan`, then :func:`run` (what :meth:`Registry.fsck` does).

    Example:
        >>> # fsck(registry, sample=100, repair=False).ok
    """
    return run(
        registry,
        plan(registry, sample, seed=seed),
        repair=repair,
        progress=progress,
        sources=sources,
    )
