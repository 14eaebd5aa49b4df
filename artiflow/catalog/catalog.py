"""Queries and transactions of the registry catalog.

Every write runs in one transaction that first locks the collection row (``SELECT … FOR UPDATE``
on PostgreSQL; SQLite write transactions hold the database write lock from ``BEGIN IMMEDIATE``),
so version allocation, alias moves and collaborative upserts are serialised per collection.

Example:
    >>> cat = Catalog.open("sqlite://")
    >>> row, created, moves = cat.commit_version(
    ...     "default", "ds", "dataset", entries=[], digest="d" * 64, size=0)
    >>> (row.index, created)
    (0, True)
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import EllipsisType, MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..exceptions import (
    AliasInUseError,
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
    StoreError,
)
from ..manifest import Entry, Manifest
from ..refs import LATEST, is_semver, is_version_index
from ._gc import GCCatalog, GCGuard, alive_clause
from ._labels import LabelEdit, merge_metadata
from ._retry import backoff, is_transient, retry_seconds
from .engine import WRITE, create_engine_for, single_read_options
from .migrate import ensure_schema
from .models import (
    alias_events,
    aliases,
    collections,
    entries,
    pending_tombstones,
    run_io,
    runs,
    tags,
    versions,
)

__all__ = ["Catalog", "CollectionRow", "RunRow", "VersionRow"]

PENDING, COMMITTED, DELETED = "PENDING", "COMMITTED", "DELETED"
MAX_LINEAGE_DEPTH = 10_000
_RESOLVE: dict[str, Any] | None = None
_T = TypeVar("_T")


def _is_store_failure(exc: DBAPIError) -> bool:
    """A database error that is the database's fault, not the statement's: a lost or refused
    connection, a full disk, an I/O error (translated to :class:`StoreError`)."""
    if is_transient(exc):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(m in text for m in ("disk is full", "disk i/o error", "no space left", "read-only"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


@dataclass(frozen=True)
class CollectionRow:
    """A collection (an artifact name within a project, or a registry collection)."""

    id: int
    project: str
    name: str
    type: str
    kind: str
    description: str | None
    created_at: dt.datetime
    version_count: int = 0
    latest_index: int | None = None


@dataclass(frozen=True)
class VersionRow:
    """A version as stored, with its aliases and tags."""

    id: int
    collection_id: int
    project: str
    name: str
    type: str
    kind: str
    index: int | None
    digest: str | None
    size: int
    file_count: int
    state: str
    description: str | None
    metadata: dict[str, Any]
    semver: str | None
    distributed_id: str | None
    target_id: int | None
    created_at: dt.datetime
    committed_at: dt.datetime | None
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    is_latest: bool = False
    revision: int = 0  # bumped by every label edit of this version
    alias_seq: int = 0  # newest alias event id of the collection when this row was read

    @property
    def version(self) -> str:
        return f"v{self.index}" if self.index is not None else "pending"

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"


@dataclass(frozen=True)
class RunRow:
    """A run: one execution that used and logged versions."""

    id: str
    name: str
    orchestrator: str
    pipeline: str | None
    pipeline_run: str | None
    task: str | None
    try_number: int | None
    map_index: int | None
    host: str | None
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class AliasMove:
    """An alias that was set, moved or removed in a transaction."""

    project: str
    name: str
    alias: str
    version_index: int | None
    previous_index: int | None


_V_COLS = [
    versions.c.id,
    versions.c.collection_id,
    collections.c.project,
    collections.c.name,
    collections.c.type,
    collections.c.kind,
    versions.c.idx,
    versions.c.digest,
    versions.c.size,
    versions.c.file_count,
    versions.c.state,
    versions.c.description,
    versions.c.meta,
    versions.c.semver,
    versions.c.distributed_id,
    versions.c.target_id,
    versions.c.created_at,
    versions.c.committed_at,
    versions.c.revision,
]


def _alias_seq_col() -> Any:
    """The newest alias event id of the version's collection (a watermark for label saves)."""
    return (
        select(func.coalesce(func.max(alias_events.c.id), 0))
        .where(alias_events.c.collection_id == versions.c.collection_id)
        .scalar_subquery()
        .label("alias_seq")
    )


def _entry_row(version_id: int, e: Entry) -> dict[str, Any]:
    return {
        "version_id": version_id,
        "path": e.path,
        "digest": e.digest,
        "size": e.size,
        "ref": e.ref,
        "extra": dict(e.extra) if e.extra else None,
    }


_ENTRY_COLUMNS = (entries.c.path, entries.c.digest, entries.c.size, entries.c.ref, entries.c.extra)


_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _entries_of(rows: Sequence[Any], bind: Any = None) -> dict[str, Entry]:
    """``path -> Entry`` from rows of :data:`_ENTRY_COLUMNS` (fetched with ``.all()``)."""
    with _gc_paused():
        return {
            path: Entry(path, digest, size, ref, extra or _NO_EXTRA, bind)
            for path, digest, size, ref, extra in rows
        }


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many acyclic objects (rows, entries) are made:
    its passes over the growing heap took half the time of loading a manifest of 10,000 files
    (57 ms row by row with it, 19 ms fetched at once without it)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _commits_landed(conn: Connection, results: Sequence[Any]) -> bool:
    """Whether the versions a :meth:`Catalog.commit_many` attempt created are committed (the
    attempt was one transaction: one of them tells for all). An attempt that created none only
    moved labels: repeating it is harmless, so it counts as not landed."""
    created = [row for row, was_created, _ in results if was_created]
    if not created:
        return False
    row = created[0]
    found = conn.execute(
        select(versions.c.id).where(
            versions.c.id == row.id,
            versions.c.collection_id == row.collection_id,
            versions.c.idx == row.index,
            versions.c.digest == row.digest,
        )
    ).first()
    return found is not None


class Catalog(GCCatalog):
    """Transactions and queries over the catalog tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._single_read = single_read_options(self.dialect)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Catalog:
        """Open (and create or upgrade) the catalog at ``url``.

        Example:
            >>> Catalog.open("sqlite://").dialect
            'sqlite'
        """
        engine = create_engine_for(url)
        if migrate:
            ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        """Dispose the engine's connections."""
        self.engine.dispose()

    # ---- transactions ---------------------------------------------------------------------
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
        connection broke during COMMIT). :meth:`_write_retrying` retries whole transactions."""
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
    def read(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A read transaction (or ``conn``, when the caller already holds one)."""
        if conn is not None:
            yield conn
            return
        deadline = time.monotonic() + retry_seconds()
        body_done = False
        try:
            with self._transaction(deadline, {}) as new:
                yield new
                body_done = True
        except DBAPIError as exc:
            if body_done and is_transient(exc):
                return  # only the COMMIT of a read failed: what was read stands
            if not _is_store_failure(exc):
                raise
            raise self._unavailable(exc, committed=False, waited=False) from exc

    def _write_retrying(
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

    # ---- collections ----------------------------------------------------------------------
    def _lock_collection(self, conn: Connection, project: str, name: str) -> Any:
        q = select(collections).where(collections.c.project == project, collections.c.name == name)
        if self.dialect == "postgresql":
            q = q.with_for_update()
        return conn.execute(q).first()

    def _get_or_create_collection(
        self,
        conn: Connection,
        project: str,
        name: str,
        type_: str,
        kind: str = "artifact",
        description: str | None = None,
    ) -> Any:
        row = self._lock_collection(conn, project, name)
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(collections).values(
                            project=project,
                            name=name,
                            type=type_,
                            kind=kind,
                            description=description,
                            created_at=_now(),
                            next_index=0,
                        )
                    )
            except IntegrityError:
                pass  # created concurrently: lock the winner's row below
            row = self._lock_collection(conn, project, name)
        if row.type != type_:
            raise ConflictError(
                f"collection {project}/{name} holds artifacts of type {row.type!r}, not "
                f"{type_!r}: use type={row.type!r} or another name"
            )
        if row.kind != kind:
            what = (
                "a registry collection (use Registry.link)"
                if row.kind == "registry"
                else "an artifact collection"
            )
            raise ConflictError(f"{project}/{name} is {what}; choose another name")
        return row

    def collection(self, project: str, name: str) -> CollectionRow | None:
        """One collection, or None."""
        rows = self.collections(project=project, name=name)
        return rows[0] if rows else None

    def collections(
        self,
        *,
        type: str | None = None,
        project: str | None = None,
        name: str | None = None,
        search: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionRow]:
        """Collections with their number of committed versions, sorted by project and name."""
        counts = (
            select(
                versions.c.collection_id,
                func.count().label("n"),
                func.max(versions.c.idx).label("latest"),
            )
            .where(versions.c.state == COMMITTED)
            .group_by(versions.c.collection_id)
            .subquery()
        )
        q = select(collections, counts.c.n, counts.c.latest).outerjoin(
            counts, counts.c.collection_id == collections.c.id
        )
        if type is not None:
            q = q.where(collections.c.type == type)
        if project is not None:
            q = q.where(collections.c.project == project)
        if name is not None:
            q = q.where(collections.c.name == name)
        if kind is not None:
            q = q.where(collections.c.kind == kind)
        if search:
            q = q.where(
                or_(
                    collections.c.name.ilike(f"%{search}%"),
                    collections.c.project.ilike(f"%{search}%"),
                )
            )
        q = q.order_by(collections.c.project, collections.c.name).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return [
                CollectionRow(
                    id=r.id,
                    project=r.project,
                    name=r.name,
                    type=r.type,
                    kind=r.kind,
                    description=r.description,
                    created_at=_aware(r.created_at),  # type: ignore[arg-type]
                    version_count=r.n or 0,
                    latest_index=r.latest,
                )
                for r in conn.execute(q)
            ]

    def count_collections(
        self, *, type: str | None = None, project: str | None = None, search: str | None = None
    ) -> int:
        """How many collections match (for pagination)."""
        q = select(func.count()).select_from(collections)
        if type is not None:
            q = q.where(collections.c.type == type)
        if project is not None:
            q = q.where(collections.c.project == project)
        if search:
            q = q.where(
                or_(
                    collections.c.name.ilike(f"%{search}%"),
                    collections.c.project.ilike(f"%{search}%"),
                )
            )
        with self.read() as conn:
            return int(conn.execute(q).scalar_one())

    # ---- reading versions -------------------------------------------------------------------
    def _rows(
        self,
        conn: Connection,
        where: Any,
        order: Any = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[VersionRow]:
        newest = versions.alias("newest")
        latest_col = (
            select(func.max(newest.c.idx))
            .where(newest.c.collection_id == versions.c.collection_id, newest.c.state == COMMITTED)
            .scalar_subquery()
            .label("latest_idx")
        )
        q = (
            select(*_V_COLS, latest_col, _alias_seq_col())
            .join(collections, collections.c.id == versions.c.collection_id)
            .where(where)
        )
        if order is not None:
            q = q.order_by(order)
        if offset:
            q = q.offset(offset)
        if limit is not None:
            q = q.limit(limit)
        raw = conn.execute(q).all()
        if not raw:
            return []
        ids = [r.id for r in raw]
        alias_map: dict[int, list[str]] = {}
        tag_map: dict[int, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            labels = union_all(
                select(
                    aliases.c.version_id, literal("a").label("k"), aliases.c.alias.label("v")
                ).where(aliases.c.version_id.in_(chunk)),
                select(tags.c.version_id, literal("t").label("k"), tags.c.tag.label("v")).where(
                    tags.c.version_id.in_(chunk)
                ),
            )
            for vid, kind, value in conn.execute(labels):
                (alias_map if kind == "a" else tag_map).setdefault(vid, []).append(value)
        return [self._row_from(r, alias_map.get(r.id, []), tag_map.get(r.id, [])) for r in raw]

    @staticmethod
    def _row_from(r: Any, alias_names: list[str], tag_names: list[str]) -> VersionRow:
        is_latest = r.state == COMMITTED and r.idx is not None and r.latest_idx == r.idx
        names = sorted(alias_names)
        if is_latest:
            names = [LATEST, *names]
        return VersionRow(
            id=r.id,
            collection_id=r.collection_id,
            project=r.project,
            name=r.name,
            type=r.type,
            kind=r.kind,
            index=r.idx,
            digest=r.digest,
            size=r.size or 0,
            file_count=r.file_count or 0,
            state=r.state,
            description=r.description,
            metadata=dict(r.meta or {}),
            semver=r.semver,
            distributed_id=r.distributed_id,
            target_id=r.target_id,
            created_at=_aware(r.created_at),  # type: ignore[arg-type]
            committed_at=_aware(r.committed_at),
            aliases=tuple(names),
            tags=tuple(sorted(tag_names)),
            is_latest=is_latest,
            revision=r.revision or 0,
            alias_seq=r.alias_seq or 0,
        )

    def _latest_index(self, conn: Connection, collection_id: int) -> int | None:
        return conn.execute(  # type: ignore[no-any-return]
            select(func.max(versions.c.idx)).where(
                versions.c.collection_id == collection_id, versions.c.state == COMMITTED
            )
        ).scalar()

    def latest_digest(self, project: str, name: str) -> str | None:
        """The digest of ``latest`` of a collection, or None (a cheap pre-check for no-op logs)."""
        with self.read() as conn:
            row = conn.execute(
                select(versions.c.digest)
                .join(collections, collections.c.id == versions.c.collection_id)
                .where(
                    collections.c.project == project,
                    collections.c.name == name,
                    versions.c.state == COMMITTED,
                )
                .order_by(versions.c.idx.desc())
                .limit(1)
            ).first()
            return row[0] if row else None

    def version_by_id(self, version_id: int, conn: Connection | None = None) -> VersionRow:
        """One version by its database id."""
        if conn is None:
            with self.read() as c:
                return self.version_by_id(version_id, c)
        rows = self._rows(conn, versions.c.id == version_id)
        if not rows:
            raise ArtifactNotFoundError(f"version id {version_id} does not exist")
        return rows[0]

    def versions_by_ids(
        self, ids: Sequence[int], conn: Connection | None = None
    ) -> dict[int, VersionRow]:
        """Versions by database ids (missing ids are absent)."""
        out: dict[int, VersionRow] = {}
        with self.read(conn) as conn:
            for start in range(0, len(ids), 500):
                for row in self._rows(conn, versions.c.id.in_(list(ids[start : start + 500]))):
                    out[row.id] = row
        return out

    @staticmethod
    def _resolve_statements() -> dict[str, Any]:
        """One prebuilt statement per selector kind: the version row, the collection, whether it
        is latest, and its aliases and tags, in ONE round trip (built once per process)."""
        global _RESOLVE
        if _RESOLVE is None:
            newest = versions.alias("newest")
            a2 = aliases.alias("a2")
            latest = (
                select(func.max(newest.c.idx))
                .where(
                    newest.c.collection_id == versions.c.collection_id, newest.c.state == COMMITTED
                )
                .scalar_subquery()
                .label("latest_idx")
            )
            alias_list = (
                select(func.aggregate_strings(a2.c.alias, ","))
                .where(a2.c.version_id == versions.c.id)
                .scalar_subquery()
                .label("alias_list")
            )
            tag_list = (
                select(func.aggregate_strings(tags.c.tag, ","))
                .where(tags.c.version_id == versions.c.id)
                .scalar_subquery()
                .label("tag_list")
            )
            cols = [*_V_COLS, latest, alias_list, tag_list, _alias_seq_col()]
            in_coll = (
                collections.c.project == bindparam("p"),
                collections.c.name == bindparam("n"),
            )
            base = select(*cols).select_from(
                versions.join(collections, collections.c.id == versions.c.collection_id)
            )
            newest_id = (
                select(func.max(newest.c.idx))
                .where(newest.c.collection_id == collections.c.id, newest.c.state == COMMITTED)
                .scalar_subquery()
            )
            _RESOLVE = {
                "latest": base.where(*in_coll, versions.c.idx == newest_id),
                "index": base.where(*in_coll, versions.c.idx == bindparam("i")),
                "semver": base.where(*in_coll, versions.c.semver == bindparam("s")),
                "alias": select(*cols)
                .select_from(
                    aliases.join(collections, collections.c.id == aliases.c.collection_id).join(
                        versions, versions.c.id == aliases.c.version_id
                    )
                )
                .where(*in_coll, aliases.c.alias == bindparam("a")),
                "exists": select(collections.c.id).where(*in_coll),
            }
        return _RESOLVE

    def resolve(self, project: str, name: str, selector: str) -> VersionRow:
        """The committed version named by ``project/name:selector`` (one round trip)."""
        ref = f"{project}/{name}:{selector}"
        stmts = self._resolve_statements()
        params: dict[str, Any] = {"p": project, "n": name}
        if selector == LATEST:
            stmt = stmts["latest"]
        elif is_version_index(selector):
            stmt, params["i"] = stmts["index"], int(selector[1:])
        elif is_semver(selector):
            stmt, params["s"] = stmts["semver"], selector
        else:
            stmt, params["a"] = stmts["alias"], selector
        with self.engine.connect() as conn:
            conn.execution_options(**self._single_read)
            r = conn.execute(stmt, params).first()
            exists = r is not None or conn.execute(stmts["exists"], params).first() is not None
        if r is None:
            if not exists:
                raise ArtifactNotFoundError(
                    f"artifact {project}/{name} does not exist (asked for {ref}); "
                    "check the name and project, or log it first"
                )
            if selector == LATEST:
                raise ArtifactNotFoundError(
                    f"{project}/{name} has no committed version yet (asked for {ref})"
                )
            if not (is_version_index(selector) or is_semver(selector)):
                raise ArtifactNotFoundError(
                    f"{project}/{name} has no version with alias {selector!r} (asked for {ref}); "
                    f"list aliases with `artiflow ls {name}`"
                )
            raise ArtifactNotFoundError(
                f"{ref} does not exist; list versions with `artiflow ls {name}`"
            )
        row = self._row_from(
            r,
            (r.alias_list or "").split(",") if r.alias_list else [],
            r.tag_list.split(",") if r.tag_list else [],
        )
        if row.state == DELETED:
            raise ArtifactNotFoundError(
                f"{ref} was deleted; its lineage is kept but its content is not"
            )
        if row.state != COMMITTED:
            raise ArtifactNotFoundError(f"{ref} is not committed yet")
        return row

    def versions(
        self,
        project: str,
        name: str,
        *,
        states: Sequence[str] = (COMMITTED,),
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[VersionRow]:
        """Versions of a collection, oldest first unless ``newest_first``."""
        with self.read() as conn:
            coll = conn.execute(
                select(collections.c.id).where(
                    collections.c.project == project, collections.c.name == name
                )
            ).first()
            if coll is None:
                raise ArtifactNotFoundError(f"artifact {project}/{name} does not exist")
            order = versions.c.idx.desc() if newest_first else versions.c.idx
            return self._rows(
                conn,
                and_(versions.c.collection_id == coll.id, versions.c.state.in_(list(states))),
                order=order,
                limit=limit,
                offset=offset,
            )

    def entries(
        self,
        version_id: int,
        *,
        paths: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        bind: Any = None,
    ) -> dict[str, Entry]:
        """The entries of a version (a link's entries are its target's), bound to ``bind``."""
        with self.read() as conn:
            target = conn.execute(
                select(versions.c.target_id).where(versions.c.id == version_id)
            ).scalar()
            vid = target if target is not None else version_id
            q = select(*_ENTRY_COLUMNS).where(entries.c.version_id == vid)
            if paths is not None:
                q = q.where(entries.c.path.in_(list(paths)))
            q = q.order_by(entries.c.path)
            if offset:
                q = q.offset(offset)
            if limit is not None:
                q = q.limit(limit)
            with _gc_paused():
                return _entries_of(conn.execute(q).all(), bind)

    # ---- writing versions ---------------------------------------------------------------
    def _set_alias(
        self,
        conn: Connection,
        coll: Any,
        version_id: int,
        version_index: int | None,
        alias: str,
        run_id: str | None,
    ) -> AliasMove | None:
        current = conn.execute(
            select(aliases.c.id, aliases.c.version_id).where(
                aliases.c.collection_id == coll.id, aliases.c.alias == alias
            )
        ).first()
        previous_index = None
        if current is not None:
            if current.version_id == version_id:
                return None
            previous_index = conn.execute(
                select(versions.c.idx).where(versions.c.id == current.version_id)
            ).scalar()
            conn.execute(
                update(aliases).where(aliases.c.id == current.id).values(version_id=version_id)
            )
        else:
            conn.execute(
                insert(aliases).values(collection_id=coll.id, alias=alias, version_id=version_id)
            )
        conn.execute(
            insert(alias_events).values(
                collection_id=coll.id,
                alias=alias,
                version_id=version_id,
                previous_version_id=current.version_id if current is not None else None,
                run_id=run_id,
                at=_now(),
            )
        )
        self._bump(conn, version_id, current.version_id if current is not None else None)
        return AliasMove(coll.project, coll.name, alias, version_index, previous_index)

    @staticmethod
    def _bump(conn: Connection, *version_ids: int | None) -> None:
        """A label of these versions changed: bump their revisions (optimistic concurrency)."""
        ids = [i for i in version_ids if i is not None]
        if ids:
            conn.execute(
                update(versions)
                .where(versions.c.id.in_(ids))
                .values(revision=versions.c.revision + 1)
            )

    def _add_tags(self, conn: Connection, version_id: int, new_tags: Iterable[str]) -> bool:
        """Add the tags the version does not have yet; True when any was added."""
        new_tags = list(new_tags)
        if not new_tags:
            return False
        have = {
            t for (t,) in conn.execute(select(tags.c.tag).where(tags.c.version_id == version_id))
        }
        rows = [
            {"version_id": version_id, "tag": t} for t in dict.fromkeys(new_tags) if t not in have
        ]
        if rows:
            conn.execute(insert(tags), rows)
            self._bump(conn, version_id)
        return bool(rows)

    def _record_io(
        self, conn: Connection, run_id: str, version_id: int, direction: str, new: bool = False
    ) -> None:
        """Record an edge once; ``new`` (a version created in this transaction) cannot have one."""
        exists = (
            None
            if new
            else conn.execute(
                select(run_io.c.id).where(
                    run_io.c.run_id == run_id,
                    run_io.c.version_id == version_id,
                    run_io.c.direction == direction,
                )
            ).first()
        )
        if exists is None:
            conn.execute(
                insert(run_io).values(
                    run_id=run_id, version_id=version_id, direction=direction, at=_now()
                )
            )

    def _label(
        self,
        conn: Connection,
        coll: Any,
        version_id: int,
        index: int | None,
        aliases: Sequence[str],
        tags: Sequence[str],
        run_id: str | None,
        new: bool = False,
    ) -> list[AliasMove]:
        """Put aliases and tags on a version and record the run that logged it."""
        moves = [
            m
            for alias in aliases
            if (m := self._set_alias(conn, coll, version_id, index, alias, run_id))
        ]
        self._add_tags(conn, version_id, tags)
        if run_id is not None:
            self._record_io(conn, run_id, version_id, "logged", new=new)
        return moves

    def _insert_entries(self, conn: Connection, version_id: int, items: Sequence[Entry]) -> None:
        rows = [_entry_row(version_id, e) for e in items]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(entries), rows[start : start + 5000])

    def commit_version(
        self, project: str, name: str, type_: str, **options: Any
    ) -> tuple[VersionRow, bool, list[AliasMove]]:
        """Commit a new version in one transaction, or return ``latest`` when its digest equals
        ``digest``. ``options`` are those of :meth:`_commit` (entries, digest, size, description,
        metadata, aliases, tags, semver, run_id, kind, target_id, noop_if_latest). Returns
        ``(version, created, alias moves)``."""
        return self.commit_many([{"project": project, "name": name, "type_": type_, **options}])[0]

    def commit_many(
        self, items: Sequence[dict[str, Any]], gc_guard: GCGuard | None = None
    ) -> list[tuple[VersionRow, bool, list[AliasMove]]]:
        """Commit several versions (each a dict of :meth:`commit_version`'s arguments) in ONE
        transaction: all of them or none. Collections are locked in (project, name) order, so
        concurrent multi-output commits cannot deadlock. With ``gc_guard``, a concurrent gc
        cannot have deleted a blob the versions need (:meth:`_gc_check`)."""
        order = sorted(range(len(items)), key=lambda i: (items[i]["project"], items[i]["name"]))

        def body(conn: Connection) -> list[Any]:
            results: list[Any] = [None] * len(items)
            if gc_guard is not None:
                self._gc_check(conn, gc_guard, (e for it in items for e in it["entries"]))
            for i in order:
                kw = dict(items[i])
                results[i] = self._commit(
                    conn, kw.pop("project"), kw.pop("name"), kw.pop("type_"), **kw
                )
            return results

        # retried whole while the database restarts; a COMMIT whose answer was lost is
        # looked up instead of repeated, so a version is never committed twice
        return self._write_retrying(body, landed=_commits_landed)

    def _commit(
        self,
        conn: Connection,
        project: str,
        name: str,
        type_: str,
        *,
        entries: Sequence[Entry],
        digest: str,
        size: int,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        aliases: Sequence[str] = (),
        tags: Sequence[str] = (),
        semver: str | None = None,
        run_id: str | None = None,
        kind: str = "artifact",
        target_id: int | None = None,
        noop_if_latest: bool = True,
    ) -> tuple[VersionRow, bool, list[AliasMove]]:
        """Commit a new version inside ``conn``'s transaction (see :meth:`commit_version`)."""
        coll = self._get_or_create_collection(conn, project, name, type_, kind, description)
        if coll.description is None and description:
            conn.execute(
                update(collections)
                .where(collections.c.id == coll.id)
                .values(description=description)
            )
        latest_idx, latest = self._latest(conn, coll)
        moves: list[AliasMove] = []
        if (
            noop_if_latest
            and latest is not None
            and latest.digest == digest
            and (semver is None or latest.semver in (None, semver))
        ):
            if semver is not None and latest.semver is None:
                self._check_semver(conn, coll, semver)
                conn.execute(
                    update(versions).where(versions.c.id == latest.id).values(semver=semver)
                )
            moves += self._label(conn, coll, latest.id, latest_idx, aliases, tags, run_id)
            return self.version_by_id(latest.id, conn), False, moves
        if semver is not None:
            self._check_semver(conn, coll, semver)
        idx = self._allocate_index(conn, coll)
        now = _now()
        vid = conn.execute(
            insert(versions)
            .values(
                collection_id=coll.id,
                idx=idx,
                digest=digest,
                size=size,
                file_count=len(entries) if target_id is None else self._file_count(conn, target_id),
                state=COMMITTED,
                description=description,
                meta=metadata or {},
                semver=semver,
                target_id=target_id,
                created_at=now,
                committed_at=now,
            )
            .returning(versions.c.id)
        ).scalar_one()
        if target_id is None:
            self._insert_entries(conn, vid, entries)
        moves.append(AliasMove(project, name, LATEST, idx, latest_idx))
        moves += self._label(conn, coll, vid, idx, aliases, tags, run_id, new=True)
        return self.version_by_id(vid, conn), True, moves

    def _latest(self, conn: Connection, coll: Any) -> tuple[int | None, Any]:
        """``(index of latest, its row (id, digest, semver))`` of a locked collection."""
        latest_idx = self._latest_index(conn, coll.id)
        if latest_idx is None:
            return None, None
        row = conn.execute(
            select(versions.c.id, versions.c.digest, versions.c.semver).where(
                versions.c.collection_id == coll.id, versions.c.idx == latest_idx
            )
        ).first()
        return latest_idx, row

    @staticmethod
    def _allocate_index(conn: Connection, coll: Any) -> int:
        """The next version index of a locked collection (never reused, even after deletes)."""
        idx = int(coll.next_index)
        conn.execute(
            update(collections).where(collections.c.id == coll.id).values(next_index=idx + 1)
        )
        return idx

    @staticmethod
    def _file_count(conn: Connection, version_id: int) -> int:
        return int(
            conn.execute(select(versions.c.file_count).where(versions.c.id == version_id)).scalar()
            or 0
        )

    def _check_semver(self, conn: Connection, coll: Any, semver: str) -> None:
        taken = conn.execute(
            select(versions.c.idx).where(
                versions.c.collection_id == coll.id,
                versions.c.semver == semver,
                versions.c.state != DELETED,
            )
        ).first()
        if taken is not None:
            raise ConflictError(
                f"{coll.project}/{coll.name} already has version {semver} (v{taken.idx}); "
                "semantic versions are unique per collection: pick the next one"
            )

    def set_alias(
        self,
        version_id: int,
        alias: str,
        run_id: str | None = None,
        *,
        expected: int | EllipsisType | None = ...,
    ) -> tuple[VersionRow, AliasMove | None]:
        """Put ``alias`` on a committed version, moving it from the version that held it.
        ``expected`` (a version index, or None for "not set") makes it a compare-and-set: the
        alias must be there now, else ``ConflictError``; ``...`` (default) moves it from anywhere."""
        with self.write() as conn:
            row = self.version_by_id(version_id, conn)
            coll = self._lock_collection(conn, row.project, row.name)
            row = self.version_by_id(version_id, conn)  # re-read under the lock (PostgreSQL)
            if row.state != COMMITTED:
                raise ArtifactNotFoundError(
                    f"{row.ref} is {row.state.lower()}: only committed versions take aliases"
                )
            if expected is not ...:
                now = conn.execute(
                    select(versions.c.idx)
                    .join(aliases, aliases.c.version_id == versions.c.id)
                    .where(aliases.c.collection_id == coll.id, aliases.c.alias == alias)
                ).first()
                now_index = None if now is None else now.idx
                if now_index != expected and now_index != row.index:
                    where = "is not set" if now_index is None else f"is on v{now_index}"
                    wanted = "not set" if expected is None else f"on v{expected}"
                    raise ConflictError(
                        f"{row.project}/{row.name}: alias {alias!r} {where}, not {wanted} as "
                        f"expected (someone moved it); it was not moved to {row.version}: check "
                        f"`artiflow ls {row.name}` and try again"
                    )
            move = self._set_alias(conn, coll, version_id, row.index, alias, run_id)
            return self.version_by_id(version_id, conn), move

    def update_version(
        self, version_id: int, edit: LabelEdit, *, run_id: str | None = None
    ) -> tuple[VersionRow, list[AliasMove]]:
        """Apply one save's changes (see :mod:`artiflow.catalog._labels`) in one transaction:
        only what the caller changed is written; a change to a field, metadata key or alias
        that someone else changed since the caller loaded it raises ``ConflictError`` and
        nothing is written."""
        with self.write() as conn:
            row = self.version_by_id(version_id, conn)
            coll = self._lock_collection(conn, row.project, row.name)
            row = self.version_by_id(version_id, conn)  # the state as of the lock (PostgreSQL)
            again = (
                "nothing was saved: reload the version (registry.get) and apply your change again"
            )
            if edit.expected_revision is not None and row.revision != edit.expected_revision:
                raise ConflictError(
                    f"{row.ref} is at revision {row.revision}, not {edit.expected_revision}: "
                    f"it was edited since you loaded it; {again}"
                )
            if edit.is_empty:
                return row, []
            values: dict[str, Any] = {}
            if edit.description is not None:
                loaded, new = edit.description
                if row.description != loaded:
                    raise ConflictError(
                        f"{row.ref}: the description changed since you loaded it "
                        f"(someone else saved it); {again}"
                    )
                values["description"] = new
            if edit.metadata:
                merged, changed = merge_metadata(row.metadata, edit.metadata, row.ref)
                if changed:
                    values["meta"] = merged
            to_add, to_remove = self._alias_changes(conn, coll, row, edit, again)
            # every check passed: write
            changed_here = bool(values)
            if values:
                conn.execute(update(versions).where(versions.c.id == version_id).values(**values))
            if edit.tags_removed:
                gone = conn.execute(
                    delete(tags).where(
                        tags.c.version_id == version_id, tags.c.tag.in_(list(edit.tags_removed))
                    )
                ).rowcount
                changed_here = changed_here or bool(gone)
            self._add_tags(conn, version_id, edit.tags_added)
            moves: list[AliasMove] = []
            for alias in to_add:
                move = self._set_alias(conn, coll, version_id, row.index, alias, run_id)
                if move:
                    moves.append(move)
            for old in to_remove:
                conn.execute(
                    delete(aliases).where(
                        aliases.c.collection_id == coll.id, aliases.c.alias == old
                    )
                )
                conn.execute(
                    insert(alias_events).values(
                        collection_id=coll.id,
                        alias=old,
                        version_id=None,
                        previous_version_id=version_id,
                        run_id=run_id,
                        at=_now(),
                    )
                )
                moves.append(AliasMove(row.project, row.name, old, None, row.index))
                changed_here = True
            if changed_here:
                self._bump(conn, version_id)
            return self.version_by_id(version_id, conn), moves

    def _alias_changes(
        self, conn: Connection, coll: Any, row: VersionRow, edit: LabelEdit, again: str
    ) -> tuple[list[str], list[str]]:
        """The aliases to add and remove, checked against their holders now (see LabelEdit)."""
        names = [*edit.aliases_added, *edit.aliases_removed]
        if not names:
            return [], []
        if edit.aliases_added and row.state != COMMITTED:
            raise ArtifactNotFoundError(
                f"{row.ref} is {row.state.lower()}: only committed versions take aliases"
            )
        holders = {
            r.alias: r.idx
            for r in conn.execute(
                select(aliases.c.alias, versions.c.idx)
                .join(versions, versions.c.id == aliases.c.version_id)
                .where(aliases.c.collection_id == coll.id, aliases.c.alias.in_(names))
            )
        }
        moved = {
            a
            for (a,) in conn.execute(
                select(alias_events.c.alias)
                .where(
                    alias_events.c.collection_id == coll.id,
                    alias_events.c.alias.in_(list(edit.aliases_added) or [""]),
                    alias_events.c.id > edit.alias_seq,
                )
                .distinct()
            )
        }
        to_add, to_remove, clashes = [], [], []
        for alias in edit.aliases_added:
            if alias in moved:
                now = f"now on v{holders[alias]}" if alias in holders else "now removed"
                clashes.append(f"{alias!r} ({now})")
            else:
                to_add.append(alias)
        for alias in edit.aliases_removed:
            if holders.get(alias, -1) != row.index:
                now = f"now on v{holders[alias]}" if alias in holders else "now removed"
                clashes.append(f"{alias!r} ({now})")
            else:
                to_remove.append(alias)
        if clashes:
            raise ConflictError(
                f"{row.ref}: alias {', '.join(clashes)} was moved since you loaded the version "
                f"(someone else moved it); {again}"
            )
        return to_add, to_remove

    def delete_version(
        self, version_id: int, *, delete_aliases: bool = False
    ) -> tuple[VersionRow, list[AliasMove]]:
        """Mark a version DELETED (lineage rows stay). Raises if it holds user aliases."""
        with self.write() as conn:
            row = self.version_by_id(version_id, conn)
            coll = self._lock_collection(conn, row.project, row.name)
            row = self.version_by_id(version_id, conn)  # aliases as of the lock (PostgreSQL)
            if row.state == DELETED:
                return row, []
            user_aliases = [a for a in row.aliases if a != LATEST]
            if user_aliases and not delete_aliases:
                raise AliasInUseError(
                    f"{row.ref} holds aliases {', '.join(user_aliases)}; move them first or call "
                    "delete(delete_aliases=True)"
                )
            moves = []
            for alias in user_aliases:
                conn.execute(
                    delete(aliases).where(
                        aliases.c.collection_id == coll.id, aliases.c.alias == alias
                    )
                )
                conn.execute(
                    insert(alias_events).values(
                        collection_id=coll.id,
                        alias=alias,
                        version_id=None,
                        previous_version_id=version_id,
                        at=_now(),
                    )
                )
                moves.append(AliasMove(row.project, row.name, alias, None, row.index))
            conn.execute(
                update(versions)
                .where(versions.c.id == version_id)
                .values(state=DELETED, deleted_at=_now())
            )
            if row.is_latest:
                moves.append(
                    AliasMove(
                        row.project, row.name, LATEST, self._latest_index(conn, coll.id), row.index
                    )
                )
            return self.version_by_id(version_id, conn), moves

    # ---- collaborative versions ---------------------------------------------------------
    def _pending(self, conn: Connection, coll: Any, distributed_id: str, lock: bool = False) -> Any:
        q = select(versions.c.id, versions.c.state, versions.c.idx).where(
            versions.c.collection_id == coll.id, versions.c.distributed_id == distributed_id
        )
        if lock and self.dialect == "postgresql":  # waits for a gc removing it right now
            q = q.with_for_update()
        return conn.execute(q).first()

    @staticmethod
    def _raise_if_collected(conn: Connection, coll: Any, distributed_id: str, who: str) -> None:
        """Raise :class:`ConflictError` when gc removed the pending version ``distributed_id``
        (its parts are gone: committing what is left would be a partial version)."""
        gone = conn.execute(
            select(pending_tombstones.c.collected_at, pending_tombstones.c.last_upsert_at).where(
                pending_tombstones.c.collection_id == coll.id,
                pending_tombstones.c.distributed_id == distributed_id,
            )
        ).first()
        if gone is not None:
            last = _aware(gone.last_upsert_at)
            raise ConflictError(
                f"{who} was removed by gc at {_aware(gone.collected_at):%Y-%m-%d %H:%M:%S} UTC "
                f"(no upsert since {last:%Y-%m-%d %H:%M:%S} UTC, longer than the grace period): "
                "the parts upserted before are gone, so it cannot be finished. Upsert every "
                "part again under a new distributed_id (or raise ARTIFLOW_PENDING_GRACE_SECONDS)"
                if last is not None
                else f"{who} was removed by gc; upsert every part again under a new distributed_id"
            )

    def _merge_entries(self, conn: Connection, vid: int, items: Sequence[Entry], who: str) -> None:
        if not items:
            return
        existing: dict[str, Entry] = {}
        paths = [e.path for e in items]
        for start in range(0, len(paths), 500):
            rows = conn.execute(
                select(*_ENTRY_COLUMNS).where(
                    entries.c.version_id == vid, entries.c.path.in_(paths[start : start + 500])
                )
            ).all()
            existing.update(_entries_of(rows))
        new = []
        for e in items:
            old = existing.get(e.path)
            if old is None:
                new.append(e)
            elif old.identity() != e.identity():
                raise ConflictError(
                    f"{who}: entry {e.path!r} was already added with different content by another "
                    "writer; give each writer its own paths"
                )
        self._insert_entries(conn, vid, new)

    def upsert(
        self,
        project: str,
        name: str,
        type_: str,
        distributed_id: str,
        items: Sequence[Entry],
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        gc_guard: GCGuard | None = None,
    ) -> int:
        """Add entries to the PENDING version ``distributed_id``, creating it. Returns its id.
        Raises :class:`ConflictError` when gc removed that version (see :meth:`finish`)."""
        who = f"{project}/{name} (distributed_id={distributed_id!r})"
        with self.write() as conn:
            if gc_guard is not None:
                self._gc_check(conn, gc_guard, items)
            coll = self._get_or_create_collection(conn, project, name, type_)
            pending = self._pending(conn, coll, distributed_id)
            now = _now()
            if pending is None:
                self._raise_if_collected(conn, coll, distributed_id, who)
                try:
                    with conn.begin_nested():
                        vid = conn.execute(
                            insert(versions)
                            .values(
                                collection_id=coll.id,
                                idx=None,
                                state=PENDING,
                                distributed_id=distributed_id,
                                description=description,
                                meta=metadata or {},
                                created_at=now,
                                last_upsert_at=now,
                            )
                            .returning(versions.c.id)
                        ).scalar_one()
                    pending = None
                except IntegrityError:  # created concurrently: add to the winner's version
                    pending = self._pending(conn, coll, distributed_id)
                    if pending is None:  # ... which gc removed already
                        self._raise_if_collected(conn, coll, distributed_id, who)
                        raise
            if pending is not None:
                if pending.state != PENDING:
                    raise ArtifactFinalizedError(
                        f"{who} was already finished as v{pending.idx}; use a new distributed_id"
                    )
                vid = pending.id
                values: dict[str, Any] = {"last_upsert_at": now}  # pending versions age by it
                if metadata:
                    meta = (
                        conn.execute(select(versions.c.meta).where(versions.c.id == vid)).scalar()
                        or {}
                    )
                    values["meta"] = {**meta, **metadata}
                touched = conn.execute(
                    update(versions)
                    .where(versions.c.id == vid, versions.c.state == PENDING)
                    .values(**values)
                ).rowcount
                if not touched:  # gc removed it (PostgreSQL: after we read it) or it was finished
                    self._raise_if_collected(conn, coll, distributed_id, who)
                    raise ArtifactFinalizedError(
                        f"{who} was already finished; use a new distributed_id"
                    )
            self._merge_entries(conn, vid, items, who)
            return int(vid)

    def finish(
        self,
        project: str,
        name: str,
        type_: str,
        distributed_id: str,
        items: Sequence[Entry],
        *,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        aliases: Sequence[str] = (),
        tags: Sequence[str] = (),
        semver: str | None = None,
        run_id: str | None = None,
        gc_guard: GCGuard | None = None,
    ) -> tuple[VersionRow, bool, list[AliasMove]]:
        """Commit the PENDING version ``distributed_id`` (adding ``items`` first). Never commits
        fewer parts than were upserted: when gc removed the pending version (no upsert for
        longer than the grace period), raises :class:`ConflictError` naming the distributed id."""
        who = f"{project}/{name} (distributed_id={distributed_id!r})"
        vid = self.upsert(
            project, name, type_, distributed_id, items, description, metadata, gc_guard=gc_guard
        )
        with self.write() as conn:
            coll = self._lock_collection(conn, project, name)
            pending = self._pending(conn, coll, distributed_id, lock=True)
            if pending is None:
                self._raise_if_collected(conn, coll, distributed_id, who)
            if pending is None or pending.state != PENDING:
                raise ArtifactFinalizedError(
                    f"{who} was already finished; use a new distributed_id"
                )
            all_entries = _entries_of(
                conn.execute(select(*_ENTRY_COLUMNS).where(entries.c.version_id == vid)).all()
            )
            manifest = Manifest(all_entries)
            digest = manifest.digest()
            latest_idx, latest = self._latest(conn, coll)
            moves: list[AliasMove] = []
            if latest is not None and latest.digest == digest:
                conn.execute(delete(entries).where(entries.c.version_id == vid))
                conn.execute(delete(versions).where(versions.c.id == vid))
                moves += self._label(conn, coll, latest.id, latest_idx, aliases, tags, run_id)
                return self.version_by_id(latest.id, conn), False, moves
            if semver is not None:
                self._check_semver(conn, coll, semver)
            idx = self._allocate_index(conn, coll)
            values: dict[str, Any] = {
                "idx": idx,
                "state": COMMITTED,
                "digest": digest,
                "size": manifest.size,
                "file_count": len(all_entries),
                "committed_at": _now(),
                "semver": semver,
            }
            if description is not None:
                values["description"] = description
            conn.execute(update(versions).where(versions.c.id == vid).values(**values))
            moves.append(AliasMove(project, name, LATEST, idx, latest_idx))
            moves += self._label(conn, coll, vid, idx, aliases, tags, run_id)
            return self.version_by_id(vid, conn), True, moves

    # ---- runs ---------------------------------------------------------------------------
    def create_run(self, row: RunRow) -> None:
        """Insert a run."""
        with self.write() as conn:
            conn.execute(
                insert(runs).values(
                    id=row.id,
                    name=row.name,
                    orchestrator=row.orchestrator,
                    pipeline=row.pipeline,
                    pipeline_run=row.pipeline_run,
                    task=row.task,
                    try_number=row.try_number,
                    map_index=row.map_index,
                    host=row.host,
                    state=row.state,
                    started_at=row.started_at,
                    info=row.info or {},
                )
            )

    def finish_run(self, run_id: str, state: str, error: str | None = None) -> dt.datetime | None:
        """Set a run's final state and end time; returns the end time (None: no such run)."""
        ended = _now()
        with self.write() as conn:
            done = conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(state=state, ended_at=ended, error=error)
            ).rowcount
        return ended if done else None

    def record_io(self, run_id: str, version_id: int, direction: str) -> None:
        """Record that a run used or logged a version (idempotent)."""
        with self.write() as conn:
            self._record_io(conn, run_id, version_id, direction)

    def runs_by_ids(self, ids: Sequence[str], conn: Connection | None = None) -> dict[str, RunRow]:
        """Runs by id."""
        out: dict[str, RunRow] = {}
        with self.read(conn) as conn:
            for start in range(0, len(ids), 500):
                for r in conn.execute(
                    select(runs).where(runs.c.id.in_(list(ids[start : start + 500])))
                ):
                    out[r.id] = self._run_row(r)
        return out

    @staticmethod
    def _run_row(r: Any) -> RunRow:
        return RunRow(
            id=r.id,
            name=r.name,
            orchestrator=r.orchestrator,
            pipeline=r.pipeline,
            pipeline_run=r.pipeline_run,
            task=r.task,
            try_number=r.try_number,
            map_index=r.map_index,
            host=r.host,
            state=r.state,
            started_at=_aware(r.started_at),  # type: ignore[arg-type]
            ended_at=_aware(r.ended_at),
            info=dict(r.info or {}),
            error=r.error,
        )

    @staticmethod
    def _run_filters(
        q: Any,
        orchestrator: str | None,
        pipeline: str | None,
        pipeline_run: str | None,
        state: str | None,
    ) -> Any:
        for column, value in (
            (runs.c.orchestrator, orchestrator),
            (runs.c.pipeline, pipeline),
            (runs.c.pipeline_run, pipeline_run),
            (runs.c.state, state),
        ):
            if value is not None:
                q = q.where(column == value)
        return q

    def list_runs(
        self,
        *,
        orchestrator: str | None = None,
        pipeline: str | None = None,
        pipeline_run: str | None = None,
        state: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RunRow]:
        """Runs, newest first."""
        q = self._run_filters(select(runs), orchestrator, pipeline, pipeline_run, state)
        q = q.order_by(runs.c.started_at.desc(), runs.c.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return [self._run_row(r) for r in conn.execute(q)]

    def count_runs(
        self,
        *,
        orchestrator: str | None = None,
        pipeline: str | None = None,
        pipeline_run: str | None = None,
        state: str | None = None,
    ) -> int:
        """How many runs match (for pagination)."""
        q = self._run_filters(
            select(func.count()).select_from(runs), orchestrator, pipeline, pipeline_run, state
        )
        with self.read() as conn:
            return int(conn.execute(q).scalar_one())

    def io_of_versions(
        self, version_ids: Sequence[int], direction: str, conn: Connection | None = None
    ) -> list[tuple[str, int]]:
        """``(run_id, version_id)`` edges of the given versions in ``direction``."""
        out: list[tuple[str, int]] = []
        with self.read(conn) as conn:
            for start in range(0, len(version_ids), 500):
                out.extend(
                    (r.run_id, r.version_id)
                    for r in conn.execute(
                        select(run_io.c.run_id, run_io.c.version_id).where(
                            run_io.c.version_id.in_(list(version_ids[start : start + 500])),
                            run_io.c.direction == direction,
                        )
                    )
                )
        return out

    def io_of_runs(
        self, run_ids: Sequence[str], direction: str, conn: Connection | None = None
    ) -> list[tuple[str, int]]:
        """``(run_id, version_id)`` edges of the given runs in ``direction``."""
        out: list[tuple[str, int]] = []
        with self.read(conn) as conn:
            for start in range(0, len(run_ids), 500):
                out.extend(
                    (r.run_id, r.version_id)
                    for r in conn.execute(
                        select(run_io.c.run_id, run_io.c.version_id).where(
                            run_io.c.run_id.in_(list(run_ids[start : start + 500])),
                            run_io.c.direction == direction,
                        )
                    )
                )
        return out

    def lineage_edges(
        self, root_id: int, *, upstream: bool, depth: int | None, conn: Connection | None = None
    ) -> list[tuple[str, int, int | None]]:
        """All ``(run_id, near_version, far_version)`` steps within ``depth`` runs of ``root_id``,
        in ONE recursive query. Upstream, ``near`` was logged by the run and ``far`` used by it;
        downstream the reverse. ``far`` is None for a run with no such edge. Cycles (a run that
        re-logs an existing version) are bounded by the depth, at most :data:`MAX_LINEAGE_DEPTH`."""
        first, second = ("logged", "used") if upstream else ("used", "logged")
        maxd = MAX_LINEAGE_DEPTH if depth is None else min(depth, MAX_LINEAGE_DEPTH)
        sql = text(
            """
            WITH RECURSIVE walk(vid, d) AS (
                SELECT CAST(:root AS INTEGER), 0
                UNION
                SELECT u.version_id, w.d + 1
                FROM walk w
                JOIN run_io l ON l.version_id = w.vid AND l.direction = :first
                JOIN run_io u ON u.run_id = l.run_id AND u.direction = :second
                WHERE w.d < :maxd
            ),
            near AS (SELECT vid FROM walk GROUP BY vid HAVING MIN(d) < :maxd)
            SELECT l.run_id, l.version_id, u.version_id
            FROM near
            JOIN run_io l ON l.version_id = near.vid AND l.direction = :first
            LEFT JOIN run_io u ON u.run_id = l.run_id AND u.direction = :second
            """
        )
        params = {"root": root_id, "first": first, "second": second, "maxd": maxd}
        with self.read(conn) as c:
            return [
                (r[0], int(r[1]), None if r[2] is None else int(r[2]))
                for r in c.execute(sql, params)
            ]

    def has_links(self, conn: Connection | None = None) -> bool:
        """True when any registry collection links a version (lets lineage skip link lookups)."""
        with self.read(conn) as c:
            return (
                c.execute(
                    select(versions.c.id).where(versions.c.target_id.is_not(None)).limit(1)
                ).first()
                is not None
            )

    def links_of(
        self, version_ids: Sequence[int], conn: Connection | None = None
    ) -> list[tuple[int, int]]:
        """``(member_id, target_id)`` pairs where a registry member links one of the versions,
        or one of the versions is a member."""
        ids = list(version_ids)
        out: list[tuple[int, int]] = []
        with self.read(conn) as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                out.extend(
                    (r.id, r.target_id)
                    for r in conn.execute(
                        select(versions.c.id, versions.c.target_id).where(
                            versions.c.target_id.is_not(None),
                            or_(versions.c.target_id.in_(chunk), versions.c.id.in_(chunk)),
                            versions.c.state != DELETED,
                        )
                    )
                )
        return out

    def produced_in(
        self,
        project: str,
        name: str,
        *,
        orchestrator: str,
        pipeline_run: str,
        pipeline: str | None = None,
        tasks: Sequence[str] | None = None,
    ) -> VersionRow | None:
        """The newest committed version of ``project/name`` logged by a run of ``pipeline_run``."""
        q = (
            select(versions.c.id)
            .join(run_io, run_io.c.version_id == versions.c.id)
            .join(runs, runs.c.id == run_io.c.run_id)
            .join(collections, collections.c.id == versions.c.collection_id)
            .where(
                run_io.c.direction == "logged",
                runs.c.orchestrator == orchestrator,
                runs.c.pipeline_run == pipeline_run,
                collections.c.project == project,
                collections.c.name == name,
                versions.c.state == COMMITTED,
            )
            .order_by(run_io.c.at.desc(), versions.c.idx.desc())
            .limit(1)
        )
        if pipeline is not None:
            q = q.where(runs.c.pipeline == pipeline)
        if tasks is not None:
            q = q.where(runs.c.task.in_(list(tasks) or [""]))
        with self.read() as conn:
            vid = conn.execute(q).scalar()
            return self.version_by_id(vid, conn) if vid is not None else None

    def alias_history(
        self,
        project: str,
        name: str,
        limit: int | None = 100,
        offset: int = 0,
        alias: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alias moves of a collection, newest first."""
        coll = self.collection(project, name)
        if coll is None:
            raise ArtifactNotFoundError(f"artifact {project}/{name} does not exist")
        v_new = versions.alias("v_new")
        v_old = versions.alias("v_old")
        q = (
            select(
                alias_events.c.alias,
                alias_events.c.at,
                alias_events.c.run_id,
                v_new.c.idx.label("to_idx"),
                v_old.c.idx.label("from_idx"),
            )
            .outerjoin(v_new, v_new.c.id == alias_events.c.version_id)
            .outerjoin(v_old, v_old.c.id == alias_events.c.previous_version_id)
            .where(alias_events.c.collection_id == coll.id)
            .order_by(alias_events.c.id.desc())
            .offset(offset)
        )
        if alias is not None:
            q = q.where(alias_events.c.alias == alias)
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return [
                {
                    "alias": r.alias,
                    "at": _aware(r.at),
                    "run_id": r.run_id,
                    "version": f"v{r.to_idx}" if r.to_idx is not None else None,
                    "previous": f"v{r.from_idx}" if r.from_idx is not None else None,
                }
                for r in conn.execute(q)
            ]

    # ---- garbage collection -----------------------------------------------------------
    def remove_stale_pending(self, older_than: dt.datetime) -> int:
        """Delete PENDING versions (never visible) whose LAST upsert is older than
        ``older_than``, leaving a tombstone so that a later ``upsert``/``finish`` of the same
        distributed id raises :class:`ConflictError` instead of committing a partial version."""
        last = func.coalesce(versions.c.last_upsert_at, versions.c.created_at)
        q = select(
            versions.c.id,
            versions.c.collection_id,
            versions.c.distributed_id,
            versions.c.created_at,
            versions.c.last_upsert_at,
        ).where(versions.c.state == PENDING, last < older_than)
        if self.dialect == "postgresql":  # an upsert in flight wins: the row is re-checked
            q = q.with_for_update()
        with self.write() as conn:
            rows = conn.execute(q).all()
            now = _now()
            for r in rows:
                key = (
                    pending_tombstones.c.collection_id == r.collection_id,
                    pending_tombstones.c.distributed_id == r.distributed_id,
                )
                conn.execute(delete(pending_tombstones).where(*key))
                conn.execute(
                    insert(pending_tombstones).values(
                        collection_id=r.collection_id,
                        distributed_id=r.distributed_id,
                        created_at=r.created_at,
                        last_upsert_at=r.last_upsert_at or r.created_at,
                        collected_at=now,
                    )
                )
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(delete(entries).where(entries.c.version_id.in_(chunk)))
                conn.execute(delete(versions).where(versions.c.id.in_(chunk)))
            return len(ids)

    def live_digests(self, deleted_since: dt.datetime | None = None) -> set[str]:
        """Digests of blobs that a committed or pending version, or a live link, needs; with
        ``deleted_since``, also those of versions deleted since then (a writer may be re-using
        such a blob right now: it saw it present and skipped the upload)."""
        alive = alive_clause(deleted_since)
        q = (
            select(entries.c.digest)
            .distinct()
            .join(versions, versions.c.id == entries.c.version_id)
            .where(
                entries.c.ref.is_(None),
                entries.c.digest.is_not(None),
                alive,
            )
        )
        with self.read() as conn:
            return {d for (d,) in conn.execute(q)}
