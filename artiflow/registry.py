"""The ``Registry`` facade: one short method per verb, each delegating to :mod:`artiflow._ops`.

What the verbs share (settings, the lazily opened catalog, store and caches, the event bus) is
one :class:`~artiflow._context.RegistryContext`; versions and runs hold it too.

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

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._context import IOCounters, RegistryContext
from ._ops import control as _control
from ._ops import gc as _gc
from ._ops import locks as _locks
from ._ops import log as _log
from ._ops import promote as _promote
from ._ops import query as _query
from ._ops import resolve as _resolve
from ._ops import runs as _runs
from ._ops.gc import GCResult
from ._publishers import attach_publishers
from .config import Settings
from .events import RegistryEvent
from .refs import Ref

if TYPE_CHECKING:
    from ._ops.fsck import FsckResult
    from .artifact import Artifact
    from .catalog import Catalog
    from .hashing import StatCache
    from .lineage import LineageGraph
    from .records import AliasEvent, Collection
    from .runs import Run
    from .store import BlobStore
    from .version import ArtifactVersion

__all__ = ["GCResult", "Registry"]

Progress = Callable[[int], object] | None


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
        settings = settings or Settings.resolve(
            home=home,
            db_url=db_url,
            store_url=store_url,
            default_project=default_project,
            link_type=link_type,
            storage_options=storage_options,
        )
        #: what the verbs, versions and runs of this registry share
        self.context = RegistryContext(settings, max_metadata_bytes)
        # the plugins' event publishers (artiflow.event_publishers entry points)
        attach_publishers(self)

    def __repr__(self) -> str:
        from sqlalchemy.engine import make_url

        db = make_url(self.settings.db_url).render_as_string(hide_password=True)
        return f"Registry(db={db!r}, store={self.settings.store_url!r})"

    # ---- configuration and the lazily opened parts (all in the context) ----------------
    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def max_metadata_bytes(self) -> int:
        """Cap on metadata, description and run info (bytes of canonical JSON)."""
        return self.context.max_metadata_bytes

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
        return self.context.catalog

    @property
    def store(self) -> BlobStore:
        """The content store."""
        return self.context.store

    @property
    def stat_cache(self) -> StatCache:
        """The per-machine stat cache."""
        return self.context.stat_cache

    @property
    def counters(self) -> IOCounters:
        """Work done so far: files read by logs, thread-pool use (see :class:`IOCounters`)."""
        return self.context.counters

    def close(self) -> None:
        """Release database connections and caches (they reopen on next use)."""
        self.context.close()

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
        return self.context.bus.subscribe(callback)

    def publish(self, event: RegistryEvent) -> None:
        """Deliver ``event`` to the subscribers (what the ``_ops`` verbs report)."""
        self.context.bus.send([event])

    # ---- lineage control (artiflow._ops: impact, quarantine, stale, policy, diff) -----------
    impact = _control.impact_method
    quarantine = _control.quarantine_method
    release = _control.release_method
    stale = _control.stale_method
    diff = _control.diff_method
    protect = _control.protect_method
    alias_audit = _control.alias_audit_method
    set_max_age = _control.set_max_age_method
    overdue = _control.overdue_method

    # ---- resolving and listing ------------------------------------------------------------
    def parse(self, ref: str | Ref) -> Ref:
        """Parse a ref with this registry's default project.

        Example:
            >>> Registry(home="/tmp/x").parse("ds:v2").project
            'default'
        """
        return self.context.parse(ref)

    def get(self, ref: str | Ref, *, allow_quarantined: bool = False) -> ArtifactVersion:
        """The committed version named by ``[project/]name[:alias|vN|semver]``. Through an alias
        (``latest`` too) a quarantined or tainted version raises :class:`QuarantinedError`
        unless ``allow_quarantined``; ``vN`` and semantic versions always resolve.

        Example:
            >>> # registry.get("bike-dataset:production").download()
        """
        return _resolve.get(self.context, ref, allow_quarantined=allow_quarantined)

    def versions(self, name: str, *, include_deleted: bool = False) -> list[ArtifactVersion]:
        """Versions of a collection, oldest first.

        Example:
            >>> # [v.version for v in registry.versions("bike-dataset")]
        """
        return _query.versions(self.context, name, include_deleted=include_deleted)

    def collections(
        self,
        type: str | None = None,
        project: str | None = None,
        *,
        search: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Collection]:
        """Collections (of one type or project, matching ``search``), sorted by project and
        name, as frozen records with their version counts.

        Example:
            >>> # [c.name for c in registry.collections(type="model")]
        """
        return _query.collections(
            self.context, type, project, search=search, limit=limit, offset=offset
        )

    def count_collections(
        self, type: str | None = None, project: str | None = None, *, search: str | None = None
    ) -> int:
        """How many collections :meth:`collections` would list (for pagination)."""
        return self.catalog.count_collections(type=type, project=project, search=search)

    def alias_history(
        self, name: str, *, alias: str | None = None, limit: int | None = 100, offset: int = 0
    ) -> list[AliasEvent]:
        """Alias moves of a collection (optionally of one alias), newest first: records with
        ``alias``, ``version`` (None when removed), ``previous``, ``at`` and ``run_id`` (they
        read as mappings too: ``event["version"]``).

        Example:
            >>> # registry.alias_history("churn-model", alias="production")[0].version
        """
        return _query.alias_history(self.context, name, alias=alias, limit=limit, offset=offset)

    # ---- logging --------------------------------------------------------------------------
    def log(
        self,
        artifact: Artifact,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        version: str | None = None,
        run: Run | None = None,
        progress: Progress = None,
        *,
        semver: str | None = None,
    ) -> ArtifactVersion:
        """Store the draft's content and commit a new version (or return ``latest`` when the
        content is unchanged). Aliases move atomically; ``semver`` is a semantic version label
        (``version=`` is its older spelling, still accepted; the logged version's
        ``.version`` is its index ``"v3"``, its ``.semver`` the label).

        Example:
            >>> # v = registry.log(draft, aliases=["candidate"], semver="1.4.0")
        """
        opts = {"aliases": aliases, "tags": tags, "version": version, "semver": semver}
        return _log.log_many(self.context, [(artifact, opts)], run=run, progress=progress)[0]

    def log_many(
        self,
        items: Sequence[Artifact | tuple[Artifact, dict[str, Any]]],
        run: Run | None = None,
        progress: Progress = None,
    ) -> list[ArtifactVersion]:
        """Log several drafts as ONE commit: every version becomes visible, or none does.
        Each item is a draft, or ``(draft, {"aliases": ..., "tags": ..., "semver": ...})``;
        nothing is committed until every draft was validated and its content stored.

        Example:
            >>> # model, report = registry.log_many([model_draft, (report_draft, {"tags": ["eval"]})])
        """
        return _log.log_many(self.context, items, run=run, progress=progress)

    def upsert(self, artifact: Artifact, distributed_id: str) -> None:
        """Add the draft's entries to the PENDING collaborative version ``distributed_id``
        (several runs or processes may call this). ``finish`` commits it.

        Example:
            >>> # registry.upsert(part, distributed_id=f"{dag_run_id}-shards")
        """
        _log.upsert(self.context, artifact, distributed_id)

    def finish(
        self,
        artifact: Artifact,
        distributed_id: str,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        version: str | None = None,
        run: Run | None = None,
        *,
        semver: str | None = None,
    ) -> ArtifactVersion:
        """Commit the collaborative version ``distributed_id`` (adding this draft's entries).

        Example:
            >>> # v = registry.finish(Artifact("shards", type="dataset"), distributed_id="run-42")
        """
        return _log.finish(
            self.context, artifact, distributed_id, aliases, tags, version, run, semver=semver
        )

    def link(
        self, version_ref: str | Ref | ArtifactVersion, target: str, aliases: Iterable[str] = ()
    ) -> ArtifactVersion:
        """Link a version into a registry collection ``"registry-name/collection"`` (no content is
        copied). The member gets its own index and aliases (``production``, ``staging``).

        Example:
            >>> # registry.link("churn-model:v7", "model-registry/churn", aliases=["production"])
        """
        return _promote.link(self.context, self._version(version_ref), target, aliases)

    # ---- labels ---------------------------------------------------------------------------
    def alias(
        self,
        ref: str | Ref,
        alias: str,
        run: Run | None = None,
        *,
        expected: str | None = None,
    ) -> ArtifactVersion:
        """Put ``alias`` on the version ``ref`` names, moving it atomically from any other
        version of the collection. ``expected`` makes it a compare-and-set: ``"v3"`` moves it
        only if it is on v3 now, ``"none"`` only if it is not set; otherwise
        :class:`ConflictError` and nothing moves (an alias already on the target never is one).

        Example:
            >>> # registry.alias("churn-model:v7", "production", expected="v6")
        """
        return _promote.alias(self.context, ref, alias, run, expected=expected)

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
        return _runs.start_run(
            self.context,
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
        )

    #: the same as :meth:`run` (the older spelling)
    start_run = run

    def get_run(self, run_id: str) -> Run:
        """A run by id.

        Example:
            >>> # registry.get_run(run.id).label
        """
        return _runs.get_run(self.context, run_id)

    def runs(self, **filters: Any) -> list[Run]:
        """Runs, newest first (filters: orchestrator, pipeline, pipeline_run, state, limit, offset).

        Example:
            >>> # registry.runs(orchestrator="airflow", state="FAILED", limit=20)
        """
        return _runs.list_runs(self.context, **filters)

    def count_runs(self, **filters: Any) -> int:
        """How many runs match (filters: orchestrator, pipeline, pipeline_run, state)."""
        return self.catalog.count_runs(**filters)

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
        return _runs.produced_in(
            self.context,
            name,
            orchestrator=orchestrator,
            pipeline_run=pipeline_run,
            pipeline=pipeline,
            tasks=tasks,
        )

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
        _query.lineage_args(direction, depth)  # bad arguments fail before the lookup
        return _query.lineage(self.context, self._version(ref), direction, depth)

    # ---- integrity and garbage collection -------------------------------------------------
    def fsck(
        self,
        sample: int | float | str | None = None,
        repair: bool = True,
        progress: Progress = None,
        *,
        sources: Iterable[str | BlobStore] = (),
    ) -> FsckResult:
        """Check every blob a live version needs (or a random ``sample``: a count, or a fraction
        of at most 1) and report the missing and corrupt ones with the versions they break;
        ``repair`` puts back a verified copy (quarantine, download cache, ``sources``) or moves a
        corrupt blob aside so the next log stores it again. See :mod:`artiflow._ops.fsck`.

        Example:
            >>> # registry.fsck(sample=0.1, repair=False).ok
        """
        from ._ops.fsck import fsck

        return fsck(self.context, sample, repair, progress, sources=sources)

    def gc(
        self,
        dry_run: bool = False,
        grace_seconds: float | None = None,
        *,
        progress: Callable[[int], object] | None = None,
        before_delete: Callable[[list[str]], object] | None = None,
    ) -> GCResult:
        """Remove blobs no live version needs, and PENDING versions whose last upsert is older
        than the grace period (default ``ARTIFLOW_PENDING_GRACE_SECONDS``, 24 h; younger blobs
        are not candidates). Safe against every concurrent writer on any store, one gc at a time
        (:class:`ConflictError`); ``progress(n)`` as candidates are processed,
        ``before_delete(candidates)`` before anything is deleted. See :mod:`artiflow._ops.gc`.

        Example:
            >>> # registry.gc(dry_run=True).blobs_deleted
        """
        return _gc.collect(
            self.context,
            dry_run=dry_run,
            grace_seconds=grace_seconds,
            progress=progress,
            before_delete=before_delete,
        )

    def _version(self, ref: str | Ref | ArtifactVersion) -> ArtifactVersion:
        from .version import ArtifactVersion

        return ref if isinstance(ref, ArtifactVersion) else self.get(ref)
