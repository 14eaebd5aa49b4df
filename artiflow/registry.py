"""The ``Registry`` facade: log, get, alias, delete, link, lineage, gc.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> art = Artifact("notes", type="text")
    >>> with art.new_file("a.txt") as f:
    ...     _ = f.write("hello")
    >>> v = reg.log(art, aliases=["production"])
    >>> (v.version, v.aliases, reg.get("notes:production").version)
    ('v0', ['latest', 'production'], 'v0')
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._ops import gc as _gc
from ._ops import locks as _locks
from ._ops import materialize as _materialize_ops
from ._ops.gc import GCResult
from ._publishers import attach_publishers
from .artifact import Artifact, LocalSource, ReferenceSource
from .catalog import Catalog, VersionRow
from .catalog._labels import LabelEdit
from .catalog.catalog import AliasMove
from .config import Settings
from .events import ALIAS_MOVED, VERSION_CREATED, RegistryEvent
from .exceptions import ArtifactNotFoundError, ConflictError, InvalidRefError, StoreError
from .hashing import StatCache, hash_file
from .limits import max_metadata_bytes as _metadata_cap
from .limits import validate_version_fields
from .lineage import DIRECTIONS, LineageGraph, build
from .manifest import Entry, Manifest, check_collisions
from .refs import LATEST, Ref, is_version_index, parse_ref, validate_alias, validate_name
from .runs import Run, new_run_row
from .semver import SemVer
from .store import SMALL_BLOB, BlobStore
from .version import ArtifactVersion

if TYPE_CHECKING:
    from ._ops.fsck import FsckResult

__all__ = ["GCResult", "Registry"]

log = logging.getLogger(__name__)
Progress = Callable[[int], object] | None
_WORKERS = max(4, min(16, (os.cpu_count() or 2) * 4))
_PARALLEL_MIN_AVG = 1024 * 1024  # threads only when files average 1 MiB or more


def _validate_labels(aliases: Iterable[str], tags: Iterable[str]) -> tuple[list[str], list[str]]:
    if isinstance(aliases, str):
        aliases = [aliases]
    if isinstance(tags, str):
        tags = [tags]
    alias_list = [validate_alias(a) for a in dict.fromkeys(aliases)]
    tag_list = [validate_name(t, "tag") for t in dict.fromkeys(tags)]
    return alias_list, tag_list


def _blob_sizes(items: Iterable[Entry]) -> tuple[set[str], dict[str, int]]:
    """The stored blobs of ``items`` and their sizes, as :meth:`BlobStore.missing` takes them."""
    sizes = {e.digest: e.size for e in items if e.ref is None and e.digest and e.size is not None}
    return {e.digest for e in items if e.ref is None and e.digest}, sizes


class Registry:
    """The artifact registry: metadata in SQLAlchemy, content in a blob store.

    ``Registry()`` reads ``ARTIFLOW_DB_URL`` / ``ARTIFLOW_STORE_URL``, else uses
    ``$ARTIFLOW_HOME`` (default ``~/.artiflow``). Nothing is opened until first use.
    ``max_metadata_bytes`` caps metadata, descriptions and run info (default
    ``$ARTIFLOW_MAX_METADATA_BYTES``, else 1 MiB of canonical JSON).
    """

    def __init__(
        self,
        db_url: str | None = None,
        store_url: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        default_project: str | None = None,
        link_type: str | None = None,
        storage_options: dict[str, Any] | None = None,
        settings: Settings | None = None,
        max_metadata_bytes: int | None = None,
    ) -> None:
        self.settings = settings or Settings.resolve(
            home=home,
            db_url=db_url,
            store_url=store_url,
            default_project=default_project,
            link_type=link_type,
            storage_options=storage_options,
        )
        #: cap on metadata, description and run info (bytes of canonical JSON); see limits.py
        self.max_metadata_bytes = _metadata_cap(max_metadata_bytes)
        self._catalog: Catalog | None = None
        self._store: BlobStore | None = None
        self._cache: BlobStore | None = None
        self._stat_cache: StatCache | None = None
        self._subscribers: list[Callable[[RegistryEvent], object]] = []
        self._lock = threading.Lock()
        attach_publishers(self)  # artiflow._publishers: plugins' event publishers (entry points)

    def __repr__(self) -> str:
        from sqlalchemy.engine import make_url

        db = make_url(self.settings.db_url).render_as_string(hide_password=True)
        return f"Registry(db={db!r}, store={self.settings.store_url!r})"

    # ---- lazily opened parts -----------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.settings.db_url

    @property
    def store_url(self) -> str:
        return self.settings.store_url

    @property
    def default_project(self) -> str:
        return self.settings.default_project

    @property
    def catalog(self) -> Catalog:
        """The metadata catalog (opened, and created or upgraded, on first use)."""
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    self._catalog = Catalog.open(self.settings.db_url)
        return self._catalog

    @property
    def store(self) -> BlobStore:
        """The content store."""
        if self._store is None:
            self._store = BlobStore(self.settings.store_url, self.settings.storage_options)
        return self._store

    @property
    def stat_cache(self) -> StatCache:
        """The per-machine stat cache."""
        if self._stat_cache is None:
            self._stat_cache = StatCache(self.settings.stat_cache_path)
        return self._stat_cache

    def close(self) -> None:
        """Release database connections and caches."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        if self._stat_cache is not None:
            self._stat_cache.close()
            self._stat_cache = None

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- events -------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[RegistryEvent], object]) -> Callable[[], None]:
        """Call ``callback(event)`` after each new version and alias move; returns an
        unsubscribe function.

        Example:
            >>> import tempfile
            >>> reg = Registry(home=tempfile.mkdtemp())
            >>> seen = []
            >>> stop = reg.subscribe(seen.append)
            >>> stop()
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(
        self, row: VersionRow, created: bool, moves: Sequence[AliasMove], run_id: str | None
    ) -> None:
        if not self._subscribers:
            return
        events = []
        if created:
            events.append(
                RegistryEvent(
                    VERSION_CREATED,
                    row.project,
                    row.name,
                    row.ref,
                    row.version,
                    row.index,
                    row.digest,
                    list(row.aliases),
                    run_id=run_id,
                )
            )
        for m in moves:
            if m.alias == LATEST:
                continue
            version = f"v{m.version_index}" if m.version_index is not None else None
            events.append(
                RegistryEvent(
                    ALIAS_MOVED,
                    m.project,
                    m.name,
                    f"{m.project}/{m.name}:{version}" if version else None,
                    version,
                    m.version_index,
                    row.digest if version == row.version else None,
                    list(row.aliases) if version == row.version else [],
                    alias=m.alias,
                    previous=f"v{m.previous_index}" if m.previous_index is not None else None,
                    run_id=run_id,
                )
            )
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:  # a subscriber must never undo a commit
                    log.exception(
                        "artiflow: event subscriber %r failed on %s", callback, event.kind
                    )

    # ---- resolving ----------------------------------------------------------------------
    def parse(self, ref: str | Ref) -> Ref:
        """Parse a ref with this registry's default project.

        Example:
            >>> Registry(home="/tmp/x").parse("ds:v2").project
            'default'
        """
        return parse_ref(ref, self.default_project)

    def get(self, ref: str | Ref) -> ArtifactVersion:
        """The committed version named by ``[project/]name[:alias|vN|semver]``.

        Example:
            >>> # registry.get("bike-dataset:production").download()
        """
        r = self.parse(ref)
        return ArtifactVersion(self, self.catalog.resolve(r.project, r.name, r.selector))

    def _version_by_id(self, version_id: int) -> ArtifactVersion:
        return ArtifactVersion(self, self.catalog.version_by_id(version_id))

    def versions(self, name: str, *, include_deleted: bool = False) -> list[ArtifactVersion]:
        """Versions of a collection, oldest first.

        Example:
            >>> # [v.version for v in registry.versions("bike-dataset")]
        """
        r = self.parse(name)
        states = ("COMMITTED", "DELETED") if include_deleted else ("COMMITTED",)
        return [
            ArtifactVersion(self, row)
            for row in self.catalog.versions(r.project, r.name, states=states)
        ]

    def collections(
        self,
        type: str | None = None,
        project: str | None = None,
        *,
        search: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Any]:
        """Collections (optionally of one type or project, or matching ``search``), sorted by
        project and name, with their version counts.

        Example:
            >>> # [c.name for c in registry.collections(type="model")]
        """
        return self.catalog.collections(
            type=type, project=project, search=search, limit=limit, offset=offset
        )

    def count_collections(
        self, type: str | None = None, project: str | None = None, *, search: str | None = None
    ) -> int:
        """How many collections :meth:`collections` would list (for pagination)."""
        return self.catalog.count_collections(type=type, project=project, search=search)

    def alias_history(
        self, name: str, *, alias: str | None = None, limit: int | None = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Alias moves of a collection (optionally of one alias), newest first: dicts with
        ``alias``, ``version`` (None when removed), ``previous``, ``at`` and ``run_id``.

        Example:
            >>> # registry.alias_history("churn-model", alias="production")[0]["version"]
        """
        r = self.parse(name)
        return self.catalog.alias_history(
            r.project, r.name, limit=limit, offset=offset, alias=alias
        )

    # ---- logging --------------------------------------------------------------------------
    def log(
        self,
        artifact: Artifact,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        version: str | None = None,
        run: Run | None = None,
        progress: Progress = None,
    ) -> ArtifactVersion:
        """Store the draft's content and commit a new version (or return ``latest`` when the
        content is unchanged). Aliases move atomically; ``version`` is a semantic version label.

        Example:
            >>> # v = registry.log(draft, aliases=["candidate"], version="1.4.0")
        """
        return self.log_many(
            [(artifact, {"aliases": aliases, "tags": tags, "version": version})],
            run=run,
            progress=progress,
        )[0]

    def log_many(
        self,
        items: Sequence[Artifact | tuple[Artifact, dict[str, Any]]],
        run: Run | None = None,
        progress: Progress = None,
    ) -> list[ArtifactVersion]:
        """Log several drafts as ONE commit: every version becomes visible, or none does
        (what a task with several outputs needs). Each item is a draft, or ``(draft, {"aliases":
        ..., "tags": ..., "version": ...})``. Content is stored first; nothing is committed until
        every draft was validated and stored.

        Example:
            >>> # model, report = registry.log_many([model_draft, (report_draft, {"tags": ["eval"]})])
        """
        plans: list[tuple[Artifact, str, list[str], list[str], str | None]] = []
        seen: set[tuple[str, str]] = set()
        for item in items:  # validate everything before storing anything
            artifact, opts = item if isinstance(item, tuple) else (item, {})
            unknown = set(opts) - {"aliases", "tags", "version"}
            if unknown:
                raise InvalidRefError(
                    f"unknown log option(s) {sorted(unknown)}: use aliases, tags, version"
                )
            artifact._check_open()
            alias_list, tag_list = _validate_labels(opts.get("aliases", ()), opts.get("tags", ()))
            version = opts.get("version")
            semver = str(SemVer.parse(version)) if version is not None else None
            project = artifact.project or self.default_project
            self._validate_draft(artifact, project, semver=semver)
            if (project, artifact.name) in seen:
                raise ConflictError(
                    f"{project}/{artifact.name} is logged twice in one commit; merge the drafts"
                )
            seen.add((project, artifact.name))
            plans.append((artifact, project, alias_list, tag_list, semver))
        run_id = run.id if run is not None else None

        def attempt(guard: _gc.GCGuard) -> list[tuple[VersionRow, bool, list[AliasMove]]]:
            commits: list[dict[str, Any]] = []
            for artifact, project, alias_list, tag_list, semver in plans:
                latest = self.catalog.latest_digest(project, artifact.name)
                manifest = self._prepare_entries(artifact, progress, expected_latest=latest)
                entries = list(manifest)
                commits.append(
                    {
                        "project": project,
                        "name": artifact.name,
                        "type_": artifact.type,
                        "entries": entries,
                        "digest": manifest.digest(),
                        "size": manifest.size,
                        "description": artifact.description,
                        "metadata": artifact.metadata,
                        "aliases": alias_list,
                        "tags": tag_list,
                        "semver": semver,
                        "run_id": run_id,
                    }
                )
            return self.catalog.commit_many(commits, gc_guard=guard)

        results = _gc.guarded(self, attempt)  # gc never deletes a blob these versions re-use
        out = []
        for (artifact, *_), (row, _created, _moves) in zip(plans, results, strict=True):
            version_obj = ArtifactVersion(self, row)
            artifact._finalize(version_obj)
            out.append(version_obj)
        for row, created, moves in results:
            self._emit(row, created, moves, run_id)
        return out

    def _validate_draft(
        self,
        artifact: Artifact,
        project: str,
        *,
        semver: str | None = None,
        distributed_id: str | None = None,
    ) -> None:
        """Check every stored field of a draft against ``limits.LIMITS`` and its entry paths for
        case/normalization collisions, before anything is stored."""
        validate_version_fields(
            type=artifact.type,
            description=artifact.description,
            metadata=artifact.metadata,
            semver=semver,
            distributed_id=distributed_id,
            max_metadata_bytes=self.max_metadata_bytes,
        )
        check_collisions(artifact.sources(), f"{project}/{artifact.name}")

    def _check_edit(self, description: object, metadata: object) -> None:
        """Check an edit of a logged version (``save()``) against ``limits.LIMITS``."""
        validate_version_fields(
            description=description,
            metadata=metadata if metadata is not None else {},
            max_metadata_bytes=self.max_metadata_bytes,
        )

    def _prepare_entries(
        self, artifact: Artifact, progress: Progress, expected_latest: str | None = None
    ) -> Manifest:
        """Hash and store every local file of the draft (one read each; the stat cache skips
        unchanged files), resolve references. Nothing is committed here.

        ``expected_latest`` is the digest of the collection's ``latest``: when every file is known
        from the stat cache and the manifest equals it, the store is not touched at all (the
        version it would make is a no-op whose blobs are live already)."""
        sources = artifact.sources()
        local = {p: s.path for p, s in sources.items() if isinstance(s, LocalSource)}
        stats: dict[str, os.stat_result] = {}
        for p, full in local.items():
            try:
                stats[full] = os.stat(full)
            except FileNotFoundError:
                raise StoreError(
                    f"file {full!r} (entry {p!r}) disappeared before it was logged"
                ) from None
        known = self.stat_cache.lookup(local.values(), stats)
        out: dict[str, Entry] = {}
        # entries carried over from a previous version (patches) need their blobs present
        carried = {p: s for p, s in sources.items() if isinstance(s, Entry)}
        if (
            expected_latest is not None
            and len(known) == len(local)
            and not any(isinstance(s, ReferenceSource) for s in sources.values())
        ):
            entries = dict(carried)
            for p, full in local.items():
                entries[p] = Entry(p, digest=known[full], size=stats[full].st_size)
            candidate = Manifest({p: entries[p] for p in sorted(entries)})
            if candidate.digest() == expected_latest and not self.store.missing(
                *_blob_sizes(entries.values())  # a blob lost or damaged: store it again below
            ):
                if progress is not None:
                    progress(sum(st.st_size for st in stats.values()))
                return candidate
        # references first: a prefix over max_objects (or a missing object) fails before any
        # local blob is stored
        resolved: dict[str, Entry] = {}
        for p, src in sources.items():
            if not isinstance(src, ReferenceSource):
                continue
            from .references import reference_options, resolve

            options = reference_options(
                src.uri, self.settings.store_url, self.settings.storage_options
            )
            for entry in resolve(
                p,
                src.uri,
                checksum=src.checksum,
                max_objects=src.max_objects,
                hasher=self._cached_hash,
                storage_options=options,
            ):
                other = sources.get(entry.path)
                if entry.path in resolved or (
                    other is not None and not isinstance(other, ReferenceSource)
                ):
                    raise ConflictError(
                        f"reference {src.uri!r} expands to {entry.path!r}, which the draft already has"
                    )
                resolved[entry.path] = entry
        if resolved:
            check_collisions(
                [*(q for q in sources if not isinstance(sources[q], ReferenceSource)), *resolved],
                f"{artifact.qualified_name}",
            )
        store = self.store
        need_check = {s.digest for s in carried.values() if s.ref is None and s.digest}
        need_check |= set(known.values())
        sizes = {d: stats[full].st_size for full, d in known.items()}  # damaged = wrong size
        missing = store.missing(need_check, sizes) if need_check else set()
        lost = {p for p, s in carried.items() if s.ref is None and s.digest in missing}
        if lost:
            raise StoreError(
                f"{len(lost)} carried-over entries (e.g. {sorted(lost)[0]!r}) have no content in the store any "
                "more (garbage-collected?): add those files again"
            )
        out.update(carried)
        hashed_at = time.time_ns()
        todo: list[tuple[str, str, str | None]] = []
        touch: list[str] = []
        for p, full in local.items():
            digest = known.get(full)
            if digest is not None and digest not in missing:
                out[p] = Entry(p, digest=digest, size=stats[full].st_size)
                touch.append(digest)
                if progress is not None:
                    progress(stats[full].st_size)
            else:
                todo.append((p, full, digest))
        if store.is_local:
            for d in touch:  # keep gc's grace window for blobs a new version is about to use
                with contextlib.suppress(OSError):
                    os.utime(store.path(d))
        if todo:
            fresh: list[tuple[str, os.stat_result, str]] = []
            todo_bytes = sum(stats[full].st_size for _, full, _ in todo)
            if store.is_local:

                def put(item: tuple[str, str, str | None]) -> tuple[str, str, int, bool]:
                    p, full, digest = item
                    st = stats[full]
                    if digest is None and st.st_size <= SMALL_BLOB:
                        try:
                            small = store.put_small(full, st)
                        except FileNotFoundError:
                            raise StoreError(
                                f"file {full!r} (entry {p!r}) disappeared before it was logged"
                            ) from None
                        if small is not None:
                            d, size, unchanged = small
                            if unchanged:  # read with one fstat: no second stat needed
                                fresh.append((full, st, d))
                            if progress is not None:
                                progress(size)
                            return p, d, size, True
                    d, size = store.put_file(full, digest=digest, progress=progress)
                    return p, d, size, False

                results = self._parallel(put, todo, todo_bytes)
            else:

                def hash_one(item: tuple[str, str, str | None]) -> tuple[str, str, int, bool]:
                    p, full, digest = item
                    if digest is not None:
                        return p, digest, stats[full].st_size, False
                    d, size = hash_file(full)
                    return p, d, size, False

                results = self._parallel(hash_one, todo, todo_bytes)
                by_path = {p: full for p, full, _ in todo}
                store.put_many(
                    [(by_path[p], d) for p, d, _, _ in results],
                    progress=progress,
                    unchanged_since=stats,
                )
            for p, d, size, judged in results:
                out[p] = Entry(p, digest=d, size=size)
                if judged:  # put_small compared the stat already (fstat after reading)
                    continue
                full = local[p]
                if os.stat(full).st_mtime_ns == stats[full].st_mtime_ns:
                    fresh.append((full, stats[full], d))
            self.stat_cache.store(fresh, hashed_at_ns=hashed_at)
        out.update(resolved)
        return Manifest({p: out[p] for p in sorted(out)})

    def _cached_hash(self, path: str) -> tuple[str, int]:
        st = os.stat(path)
        hit = self.stat_cache.lookup([path], {path: st})
        if path in hit:
            return hit[path], st.st_size
        started = time.time_ns()
        digest, size = hash_file(path)
        self.stat_cache.store([(path, st, digest)], hashed_at_ns=started)
        return digest, size

    @staticmethod
    def _parallel(fn: Callable[[Any], Any], items: Sequence[Any], total_bytes: int) -> list[Any]:
        """``[fn(i) for i in items]``, on a thread pool only when the files are big enough.

        Small files are CPU-bound in Python (open, hash, write, rename: the GIL is held most of
        the time), and threads then cost more than they give: 10,000 files of 10 KiB logged in
        0.85 s serially vs 2.0 s on 8 threads (tmpfs, 2 cores); downloaded from a store in the
        page cache in 0.23-0.26 s serially vs 0.31-0.40 s on 2 threads (ext4, 2 cores; only
        from a store that is not in the page cache do 2 threads win). Large files spend their
        time in I/O and BLAKE3, which release the GIL.
        """
        if len(items) <= 1 or total_bytes < _PARALLEL_MIN_AVG * len(items):
            return [fn(i) for i in items]
        workers = min(_WORKERS, len(items))
        size = max(1, min(256, len(items) // (workers * 4)))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(lambda chunk: [fn(i) for i in chunk], chunks)
            return [r for part in parts for r in part]

    # ---- aliases, links, edits ----------------------------------------------------------
    def alias(
        self,
        ref: str | Ref,
        alias: str,
        run: Run | None = None,
        *,
        expected: str | None = None,
    ) -> ArtifactVersion:
        """Put ``alias`` on the version ``ref`` names, moving it atomically from any other
        version of the collection.

        ``expected`` makes the move a compare-and-set: ``"v3"`` moves it only if it is on v3
        now, ``"none"`` only if it is not set; otherwise :class:`ConflictError` and nothing
        moves (an alias already on the target is never a conflict).

        Example:
            >>> # registry.alias("churn-model:v7", "production", expected="v6")
        """
        validate_alias(alias)
        want: Any = ...
        if expected is not None:
            if expected == "none":
                want = None
            elif is_version_index(expected):
                want = int(expected[1:])
            else:
                raise InvalidRefError(
                    f"expected={expected!r}: give the version the alias is on now ('v3'), or "
                    "'none' when it must not be set"
                )
        version = self.get(ref)
        run_id = run.id if run is not None else None
        row, move = self.catalog.set_alias(version.id, alias, run_id, expected=want)
        self._emit(row, False, [move] if move else [], run_id)
        return ArtifactVersion(self, row)

    def _save(self, version: ArtifactVersion, edit: LabelEdit) -> None:
        row, moves = self.catalog.update_version(version.id, edit)
        version._refresh(row)
        self._emit(row, False, moves, None)

    def _delete(self, version: ArtifactVersion, delete_aliases: bool) -> None:
        _locks.ensure_not_kept(self, version)  # a kept run lock holds it: LockKeptError
        row, moves = self.catalog.delete_version(version.id, delete_aliases=delete_aliases)
        version._refresh(row)
        self._emit(row, False, moves, None)

    def link(
        self, version_ref: str | Ref | ArtifactVersion, target: str, aliases: Iterable[str] = ()
    ) -> ArtifactVersion:
        """Link a version into a registry collection ``"registry-name/collection"`` (no content is
        copied). The member gets its own index and aliases (``production``, ``staging``).

        Example:
            >>> # registry.link("churn-model:v7", "model-registry/churn", aliases=["production"])
        """
        source = version_ref if isinstance(version_ref, ArtifactVersion) else self.get(version_ref)
        if not isinstance(target, str) or ":" in target:
            raise InvalidRefError(
                f"invalid link target {target!r}: use 'registry-name/collection' without a selector"
            )
        t = self.parse(target)
        alias_list, _ = _validate_labels(aliases, ())
        target_row = source._row
        if source.is_link and source._row.target_id is not None:  # link the original, not a link
            target_row = self.catalog.version_by_id(source._row.target_id)
        row, created, moves = self.catalog.commit_version(
            t.project,
            t.name,
            target_row.type,
            entries=[],
            digest=target_row.digest or "",
            size=target_row.size,
            description=target_row.description,
            metadata=dict(target_row.metadata),
            aliases=alias_list,
            kind="registry",
            target_id=target_row.id,
        )
        if not created and row.target_id != target_row.id:
            # same content linked from another version: keep the first member
            pass
        self._emit(row, created, moves, None)
        return ArtifactVersion(self, row)

    # ---- collaborative versions -----------------------------------------------------------
    def upsert(self, artifact: Artifact, distributed_id: str) -> None:
        """Add the draft's entries to the PENDING collaborative version ``distributed_id``
        (several runs or processes may call this). ``finish`` commits it.

        Example:
            >>> # registry.upsert(part, distributed_id=f"{dag_run_id}-shards")
        """
        if not isinstance(distributed_id, str) or not distributed_id:
            raise InvalidRefError("distributed_id must be a non-empty string shared by all writers")
        artifact._check_open()
        project = artifact.project or self.default_project
        self._validate_draft(artifact, project, distributed_id=distributed_id)
        _gc.guarded(
            self,
            lambda guard: self.catalog.upsert(
                project,
                artifact.name,
                artifact.type,
                distributed_id,
                list(self._prepare_entries(artifact, None)),
                artifact.description,
                artifact.metadata,
                gc_guard=guard,
            ),
        )
        artifact._finalize(None)
        artifact._logged = _Upserted(distributed_id)

    def finish(
        self,
        artifact: Artifact,
        distributed_id: str,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        version: str | None = None,
        run: Run | None = None,
    ) -> ArtifactVersion:
        """Commit the collaborative version ``distributed_id`` (adding this draft's entries).

        Example:
            >>> # v = registry.finish(Artifact("shards", type="dataset"), distributed_id="run-42")
        """
        if not isinstance(distributed_id, str) or not distributed_id:
            raise InvalidRefError("distributed_id must be a non-empty string shared by all writers")
        artifact._check_open()
        alias_list, tag_list = _validate_labels(aliases, tags)
        semver = str(SemVer.parse(version)) if version is not None else None
        project = artifact.project or self.default_project
        self._validate_draft(artifact, project, semver=semver, distributed_id=distributed_id)
        row, created, moves = _gc.guarded(
            self,
            lambda guard: self.catalog.finish(
                project,
                artifact.name,
                artifact.type,
                distributed_id,
                list(self._prepare_entries(artifact, None)),
                description=artifact.description,
                metadata=artifact.metadata,
                aliases=alias_list,
                tags=tag_list,
                semver=semver,
                run_id=run.id if run is not None else None,
                gc_guard=guard,
            ),
        )
        result = ArtifactVersion(self, row)
        artifact._finalize(result)
        self._emit(row, created, moves, run.id if run is not None else None)
        return result

    # ---- runs ---------------------------------------------------------------------------
    def run(
        self,
        name: str,
        *,
        orchestrator: str = "manual",
        pipeline: str | None = None,
        pipeline_run: str | None = None,
        task: str | None = None,
        try_number: int | None = None,
        map_index: int | None = None,
        host: str | None = None,
        info: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Start a run: ``with registry.run("train") as run: run.use(...); run.log(...)``.

        Example:
            >>> # with registry.run("train", pipeline="nightly") as run: ...
        """
        if not isinstance(name, str) or not name:
            raise InvalidRefError("a run needs a non-empty name")
        row = new_run_row(
            name,
            orchestrator=orchestrator,
            pipeline=pipeline,
            pipeline_run=pipeline_run,
            task=task,
            try_number=try_number,
            map_index=map_index,
            host=host,
            info=info,
            run_id=run_id,
            max_metadata_bytes=self.max_metadata_bytes,
        )
        self.catalog.create_run(row)
        return Run(self, row)

    start_run = run

    def get_run(self, run_id: str) -> Run:
        """A run by id."""
        rows = self.catalog.runs_by_ids([run_id])
        if run_id not in rows:
            raise ArtifactNotFoundError(f"run {run_id!r} does not exist")
        return Run(self, rows[run_id])

    def runs(self, **filters: Any) -> list[Run]:
        """Runs, newest first (filters: orchestrator, pipeline, pipeline_run, state, limit, offset).

        Example:
            >>> # registry.runs(orchestrator="airflow", state="FAILED", limit=20)
        """
        return [Run(self, r) for r in self.catalog.list_runs(**filters)]

    def count_runs(self, **filters: Any) -> int:
        """How many runs match (filters: orchestrator, pipeline, pipeline_run, state)."""
        return self.catalog.count_runs(**filters)

    def _runs_of(self, version: ArtifactVersion, direction: str) -> list[Run]:
        ids = [r for r, _ in self.catalog.io_of_versions([version.id], direction)]
        rows = self.catalog.runs_by_ids(ids)
        return sorted(
            (Run(self, rows[i]) for i in dict.fromkeys(ids) if i in rows),
            key=lambda r: r.started_at,
        )

    def _versions_of_run(self, run_id: str, direction: str) -> list[ArtifactVersion]:
        ids = [v for _, v in self.catalog.io_of_runs([run_id], direction)]
        rows = self.catalog.versions_by_ids(ids)
        return [ArtifactVersion(self, rows[i]) for i in dict.fromkeys(ids) if i in rows]

    def produced_in(
        self,
        name: str,
        *,
        orchestrator: str,
        pipeline_run: str,
        pipeline: str | None = None,
        tasks: Sequence[str] | None = None,
    ) -> ArtifactVersion | None:
        """The version of ``name`` that a run of ``pipeline_run`` logged (same-run pinning), or
        None when no run of it did.

        Example:
            >>> # registry.produced_in("bike-dataset", orchestrator="airflow", pipeline_run=run_id)
        """
        r = self.parse(name)
        row = self.catalog.produced_in(
            r.project,
            r.name,
            orchestrator=orchestrator,
            pipeline_run=str(pipeline_run),
            pipeline=pipeline,
            tasks=tasks,
        )
        return ArtifactVersion(self, row) if row is not None else None

    # ---- run locks (artiflow/_ops/locks.py) ---------------------------------------------
    def run_lock(
        self, orchestrator: str, pipeline_run: str, *, pipeline: str | None = None
    ) -> _locks.RunLock:
        """The run lock of a pipeline run: each ref -> the version it resolved to first.

        Example:
            >>> # registry.run_lock("airflow", "manual__2026-12-03").entries[0].version_ref
        """
        return _locks.run_lock(self, orchestrator, pipeline_run, pipeline=pipeline)

    def keep_lock(
        self, orchestrator: str, pipeline_run: str, *, reason: str, pipeline: str | None = None
    ) -> _locks.RunLock:
        """Keep a run lock: its versions cannot be deleted (nor collected) until released.

        Example:
            >>> # registry.keep_lock("airflow", run_id, reason="audit").kept
        """
        return _locks.keep(self, orchestrator, pipeline_run, reason=reason, pipeline=pipeline)

    def release_lock(
        self, orchestrator: str, pipeline_run: str, *, pipeline: str | None = None
    ) -> _locks.RunLock:
        """Release a kept run lock.

        Example:
            >>> # registry.release_lock("airflow", run_id).kept
        """
        return _locks.release(self, orchestrator, pipeline_run, pipeline=pipeline)

    # ---- lineage --------------------------------------------------------------------------
    def lineage(
        self,
        ref: str | Ref | ArtifactVersion,
        direction: str = "upstream",
        depth: int | None = None,
    ) -> LineageGraph:
        """The lineage graph of a version: ``upstream`` (what it came from), ``downstream``
        (what used it) or ``both``; ``depth`` counts runs.

        Example:
            >>> # print(registry.lineage("churn-model:production").to_mermaid())
        """
        if direction not in DIRECTIONS:
            raise InvalidRefError(
                f"invalid direction {direction!r}: use one of {', '.join(DIRECTIONS)}"
            )
        if depth is not None and (not isinstance(depth, int) or depth < 0):
            raise InvalidRefError(f"invalid depth {depth!r}: use a whole number >= 0, or None")
        version = ref if isinstance(ref, ArtifactVersion) else self.get(ref)
        return build(self.catalog, version._row, direction, depth)

    # ---- reading content ----------------------------------------------------------------
    def _local_blob(self, digest: str) -> str:
        return _materialize_ops.local_blob(self, digest)

    def _materialize(
        self, items: Sequence[Entry], base: Path, progress: Progress = None, *, fresh: bool = False
    ) -> None:
        _materialize_ops.materialize(self, items, base, progress, fresh=fresh)

    def _materialize_new(
        self, items: Sequence[Entry], base: Path, progress: Progress = None
    ) -> None:
        _materialize_ops.materialize_new(self, items, base, progress)

    # ---- integrity ------------------------------------------------------------------------
    def fsck(
        self,
        sample: int | float | str | None = None,
        repair: bool = True,
        progress: Progress = None,
        *,
        sources: Iterable[str | BlobStore] = (),
    ) -> FsckResult:
        """Check every blob a live version needs (or a random ``sample``: a count, or a fraction
        of at most 1), report the missing and corrupt ones with the versions they break, and with
        ``repair`` put back a verified copy from the store's quarantine, the download cache or
        ``sources`` (other store URLs); a corrupt blob with no copy is moved aside, so the next
        log of that content stores it again. See :mod:`artiflow._ops.fsck` for the JSON shape.

        Example:
            >>> # registry.fsck(sample=0.1, repair=False).ok
        """
        from ._ops.fsck import fsck

        return fsck(self, sample, repair, progress, sources=sources)

    # ---- garbage collection ---------------------------------------------------------------
    def gc(
        self,
        dry_run: bool = False,
        grace_seconds: float | None = None,
        *,
        progress: Callable[[int], object] | None = None,
        before_delete: Callable[[list[str]], object] | None = None,
    ) -> GCResult:
        """Remove blobs no live version needs, and PENDING versions whose last upsert is older
        than the grace period. Safe against every concurrent writer, on any store: a blob a
        version commits with is never deleted (see :mod:`artiflow._ops.gc`).

        Blobs younger than the grace period (default ``ARTIFLOW_PENDING_GRACE_SECONDS``, 24 h)
        and blobs of versions deleted within it are not even candidates. ``progress(n)`` is
        called as candidates are processed; ``before_delete(candidates)`` after the scan,
        before anything is deleted (a hook for tooling and tests). One gc at a time: a second
        one raises :class:`ConflictError`.

        Example:
            >>> # registry.gc(dry_run=True).blobs_deleted
        """
        return _gc.collect(
            self,
            dry_run=dry_run,
            grace_seconds=grace_seconds,
            progress=progress,
            before_delete=before_delete,
        )


@dataclass(frozen=True)
class _Upserted:
    distributed_id: str

    @property
    def ref(self) -> str:
        return f"pending collaborative version {self.distributed_id!r}"
