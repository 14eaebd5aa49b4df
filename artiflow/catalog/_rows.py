"""Row mapping shared by every catalog domain: row → record, the one chunking helper, the one
"latest committed index" subquery, entry rows.

Example:
    >>> [list(c) for c in chunks([1, 2, 3], 2)]
    [[1, 2], [3]]
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    String,
    and_,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)

from ..manifest import Entry
from ..refs import LATEST
from ._records import (
    COMMITTED,
    CollectionRecord,
    RunRecord,
    RunSummary,
    VersionRecord,
    VersionSummary,
)
from .models import alias_events, aliases, collections, entries, runs, tags, versions

__all__ = [
    "CHUNK",
    "ENTRY_COLUMNS",
    "VERSION_COLUMNS",
    "alias_seq_column",
    "aware",
    "chunks",
    "collection_record",
    "current_latest",
    "entries_of",
    "entry_row",
    "gc_paused",
    "labels_in_range",
    "latest_index",
    "now",
    "page_rows",
    "raw_time",
    "run_record",
    "run_summaries",
    "time_value",
    "version_record",
    "version_rows",
    "version_summaries",
]

CHUNK = 500  # keys per ``IN (…)``: far below every driver's bound-parameter limit
_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """``items`` in lists of at most ``size`` (the one loop behind every ``IN (…)``)."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now() -> dt.datetime:
    """The current time, UTC-aware (what every timestamp column stores)."""
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as UTC-aware (SQLite hands back naive datetimes)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def latest_index(collection_id: Any) -> Any:
    """The scalar subquery "index of the newest committed version of ``collection_id``"
    (a column or a bound parameter): the definition of ``latest`` everywhere."""
    newest = versions.alias("newest")
    return (
        select(func.max(newest.c.idx))
        .where(newest.c.collection_id == collection_id, newest.c.state == COMMITTED)
        .scalar_subquery()
    )


VERSION_COLUMNS = [
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


def alias_seq_column() -> Any:
    """The newest alias event id of the version's collection (a watermark for label saves)."""
    return (
        select(func.coalesce(func.max(alias_events.c.id), 0))
        .where(alias_events.c.collection_id == versions.c.collection_id)
        .scalar_subquery()
        .label("alias_seq")
    )


def version_record(r: Any, alias_names: Sequence[str], tag_names: Sequence[str]) -> VersionRecord:
    """A :class:`VersionRecord` from a row of :data:`VERSION_COLUMNS` + ``latest_idx`` +
    ``alias_seq``."""
    # by position (the order of VERSION_COLUMNS): a Row's attribute look-up by name costs
    # more than the record it fills
    (vid, cid, project, name, type_, kind, idx, digest, size, file_count, state) = r[:11]
    (description, meta, semver, distributed_id, target_id, created, committed) = r[11:18]
    is_latest = state == COMMITTED and idx is not None and r.latest_idx == idx
    names = sorted(alias_names)
    if is_latest:
        names = [LATEST, *names]
    return VersionRecord(
        id=vid,
        collection_id=cid,
        project=project,
        name=name,
        type=type_,
        kind=kind,
        index=idx,
        digest=digest,
        size=size or 0,
        file_count=file_count or 0,
        state=state,
        description=description,
        metadata=dict(meta or {}),
        semver=semver,
        distributed_id=distributed_id,
        target_id=target_id,
        created_at=aware(created),  # type: ignore[arg-type]
        committed_at=aware(committed),
        aliases=tuple(names),
        tags=tuple(sorted(tag_names)),
        is_latest=is_latest,
        revision=r[18] or 0,
        alias_seq=r.alias_seq or 0,
    )


def labels_in_range(
    conn: Connection, collection_id: int, lo: int, hi: int
) -> tuple[dict[int, list[str]], ...]:
    """``(aliases by version id, tags by version id)`` of the versions of one collection with
    ``lo <= idx <= hi``, in one query whose parameters do not grow with the page (no
    ``IN (…)`` of ids to build: a page of versions is one contiguous run of indices)."""
    in_range = (
        versions.c.collection_id == collection_id,
        versions.c.idx >= lo,
        versions.c.idx <= hi,
    )
    labels = union_all(
        select(aliases.c.version_id, literal("a").label("k"), aliases.c.alias.label("v"))
        .join(versions, versions.c.id == aliases.c.version_id)
        .where(aliases.c.collection_id == collection_id, *in_range),
        select(tags.c.version_id, literal("t").label("k"), tags.c.tag.label("v"))
        .join(versions, versions.c.id == tags.c.version_id)
        .where(*in_range),
    )
    alias_map: dict[int, list[str]] = {}
    tag_map: dict[int, list[str]] = {}
    for vid, kind, value in conn.execute(labels):
        (alias_map if kind == "a" else tag_map).setdefault(vid, []).append(value)
    return alias_map, tag_map


def page_rows(
    conn: Connection,
    project: str,
    name: str,
    states: Sequence[str],
    order: Any,
    limit: int | None,
    offset: int,
) -> list[VersionRecord] | None:
    """A page of the versions of ``project/name`` in ``states``, in two statements (the rows
    with the collection joined by name, then their labels by index range); None when the page
    is empty (the caller tells an empty page from a missing collection)."""
    where = and_(
        collections.c.project == project,
        collections.c.name == name,
        versions.c.state.in_(list(states)),
    )
    q = (
        select(
            *VERSION_COLUMNS,
            latest_index(versions.c.collection_id).label("latest_idx"),
            alias_seq_column(),
        )
        .join(collections, collections.c.id == versions.c.collection_id)
        .where(where)
        .order_by(order)
    )
    if offset:
        q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    raw = conn.execute(q).all()
    if not raw:
        return None
    idxs = [r.idx for r in raw]
    if any(i is None for i in idxs):  # uncommitted rows have no index yet: look up by id
        alias_map, tag_map = _labels_of(conn, [r.id for r in raw])
    else:
        alias_map, tag_map = labels_in_range(conn, raw[0].collection_id, min(idxs), max(idxs))
    return [version_record(r, alias_map.get(r.id, []), tag_map.get(r.id, [])) for r in raw]


def _labels_of(conn: Connection, ids: Sequence[int]) -> tuple[dict[int, list[str]], ...]:
    """``(aliases by version id, tags by version id)`` in one query per chunk."""
    alias_map: dict[int, list[str]] = {}
    tag_map: dict[int, list[str]] = {}
    for chunk in chunks(ids):
        labels = union_all(
            select(aliases.c.version_id, literal("a").label("k"), aliases.c.alias.label("v")).where(
                aliases.c.version_id.in_(chunk)
            ),
            select(tags.c.version_id, literal("t").label("k"), tags.c.tag.label("v")).where(
                tags.c.version_id.in_(chunk)
            ),
        )
        for vid, kind, value in conn.execute(labels):
            (alias_map if kind == "a" else tag_map).setdefault(vid, []).append(value)
    return alias_map, tag_map


def version_rows(
    conn: Connection,
    where: Any,
    order: Any = None,
    limit: int | None = None,
    offset: int = 0,
    unlabelled: bool = False,
) -> list[VersionRecord]:
    """The versions matching ``where`` (with their aliases and tags, unless the caller knows
    they have none: ``unlabelled``), in ``order``."""
    q = (
        select(
            *VERSION_COLUMNS,
            latest_index(versions.c.collection_id).label("latest_idx"),
            alias_seq_column(),
        )
        .join(collections, collections.c.id == versions.c.collection_id)
        .where(where)
    )
    if order is not None:
        q = q.order_by(*(order if isinstance(order, (list, tuple)) else [order]))
    if offset:
        q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    raw = conn.execute(q).all()
    if not raw:
        return []
    if unlabelled:
        return [version_record(r, (), ()) for r in raw]
    alias_map, tag_map = _labels_of(conn, [r.id for r in raw])
    return [version_record(r, alias_map.get(r.id, []), tag_map.get(r.id, [])) for r in raw]


def raw_time(column: Any) -> Any:
    """``column`` (a timestamp) selected without SQLAlchemy's conversion: SQLite's driver hands
    back its text, which :func:`time_value` parses with the C ``fromisoformat`` (~4 us a value
    less than SQLAlchemy's regular expression); other drivers convert it themselves."""
    return type_coerce(column, String).label(column.name)


def time_value(conn: Connection, value: Any) -> dt.datetime | None:
    """A timestamp of :func:`raw_time` as a UTC-aware datetime (None stays None)."""
    if isinstance(value, str):
        try:  # SQLite's text is UTC without an offset (a parse is cheaper than replace())
            return dt.datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:  # not ISO text: let SQLAlchemy's own conversion read it
            convert = conn.dialect.type_descriptor(DateTime()).result_processor(conn.dialect, None)
            value = convert(value) if convert is not None else value
    return aware(value)


def version_summaries(conn: Connection, ids: Sequence[int]) -> dict[int, VersionSummary]:
    """:class:`VersionSummary` records of the versions ``ids`` (missing ids are absent): per
    chunk of ids one statement for the rows and one for their aliases, then one grouped
    statement for the latest index of each collection among them, instead of a correlated
    subquery per row."""
    found: list[Any] = []
    alias_map: dict[int, list[str]] = {}
    cols = (
        versions.c.id,
        versions.c.collection_id,
        collections.c.project,
        collections.c.name,
        collections.c.type,
        versions.c.idx,
        versions.c.digest,
        versions.c.state,
        raw_time(versions.c.created_at),
    )
    for chunk in chunks(ids):
        found.extend(
            conn.execute(
                select(*cols)
                .join(collections, collections.c.id == versions.c.collection_id)
                .where(versions.c.id.in_(chunk))
            ).all()
        )
        for vid, alias in conn.execute(
            select(aliases.c.version_id, aliases.c.alias).where(aliases.c.version_id.in_(chunk))
        ).all():
            alias_map.setdefault(vid, []).append(alias)
    latest: dict[int, int] = {}
    for chunk in chunks(sorted({r[1] for r in found})):
        latest.update(
            conn.execute(
                select(versions.c.collection_id, func.max(versions.c.idx))
                .where(versions.c.collection_id.in_(chunk), versions.c.state == COMMITTED)
                .group_by(versions.c.collection_id)
            ).all()
        )
    out: dict[int, VersionSummary] = {}
    for vid, cid, project, name, type_, idx, digest, state, created in found:
        names = sorted(alias_map.get(vid, ()))
        if state == COMMITTED and idx is not None and latest.get(cid) == idx:
            names = [LATEST, *names]
        created_at = time_value(conn, created)
        assert created_at is not None  # the column is NOT NULL
        out[vid] = VersionSummary(
            vid, project, name, type_, idx, digest, state, tuple(names), created_at
        )
    return out


def run_summaries(conn: Connection, ids: Sequence[str]) -> dict[str, RunSummary]:
    """:class:`RunSummary` records of the runs ``ids`` (missing ids are absent), one statement
    per chunk of ids, without the ``info`` JSON a :class:`RunRecord` decodes."""
    cols = (
        runs.c.id,
        runs.c.name,
        runs.c.orchestrator,
        runs.c.pipeline,
        runs.c.pipeline_run,
        runs.c.task,
        runs.c.try_number,
        runs.c.map_index,
        runs.c.host,
        runs.c.state,
        raw_time(runs.c.started_at),
        raw_time(runs.c.ended_at),
    )
    out: dict[str, RunSummary] = {}
    for chunk in chunks(ids):
        for r in conn.execute(select(*cols).where(runs.c.id.in_(chunk))).all():
            started = time_value(conn, r[10])
            assert started is not None  # the column is NOT NULL
            out[r[0]] = RunSummary(*r[:10], started, time_value(conn, r[11]))
    return out


def collection_record(r: Any, version_count: int | None, latest: int | None) -> CollectionRecord:
    """A :class:`CollectionRecord` from a ``collections`` row and its counts."""
    return CollectionRecord(
        id=r.id,
        project=r.project,
        name=r.name,
        type=r.type,
        kind=r.kind,
        description=r.description,
        created_at=aware(r.created_at),  # type: ignore[arg-type]
        version_count=version_count or 0,
        latest_index=latest,
    )


def run_record(r: Any) -> RunRecord:
    """A :class:`RunRecord` from a ``runs`` row."""
    return RunRecord(
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
        started_at=aware(r.started_at),  # type: ignore[arg-type]
        ended_at=aware(r.ended_at),
        info=dict(r.info or {}),
        error=r.error,
    )


ENTRY_COLUMNS = (entries.c.path, entries.c.digest, entries.c.size, entries.c.ref, entries.c.extra)
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def entry_row(version_id: int, e: Entry) -> dict[str, Any]:
    """The ``entries`` row of ``e`` in version ``version_id``."""
    return {
        "version_id": version_id,
        "path": e.path,
        "digest": e.digest,
        "size": e.size,
        "ref": e.ref,
        "extra": dict(e.extra) if e.extra else None,
    }


@contextmanager
def gc_paused() -> Iterator[None]:
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


def entries_of(rows: Sequence[Any], bind: Any = None) -> dict[str, Entry]:
    """``path -> Entry`` from rows of :data:`ENTRY_COLUMNS` (fetched with ``.all()``)."""
    with gc_paused():
        return {
            path: Entry(path, digest, size, ref, extra or _NO_EXTRA, bind)
            for path, digest, size, ref, extra in rows
        }


def current_latest(conn: Connection, collection_id: int) -> int | None:
    """The index of ``latest`` of collection ``collection_id`` now (None: nothing committed)."""
    return conn.execute(select(latest_index(collection_id))).scalar()  # type: ignore[no-any-return]
