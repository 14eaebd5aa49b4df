"""Paging done by the database, for the web API and the CLI: versions of a collection, runs,
collections and the entries (files) of a version.

Every page is ONE bounded query (``LIMIT n + 1``: the extra row says whether a next page
exists) plus a count that stays cheap: the entries of a version are counted by the version's
``file_count`` column; other listings count at most ``count_cap`` rows (past it ``total`` is
the cap and ``total_exact`` is False, e.g. "10,000+"). A page is addressed by ``offset`` or by
the opaque ``cursor`` of the page before it (keyset: stable while rows are inserted).

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> for i in range(3):
    ...     _ = cat.commit_version("p", "ds", "dataset", entries=[], digest=str(i) * 64, size=0)
    >>> first = cat.page_versions("p", "ds", limit=2)
    >>> [v.index for v in first.items], first.total
    ([2, 1], 3)
    >>> [v.index for v in cat.page_versions("p", "ds", limit=2, cursor=first.next_cursor).items]
    [0]
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ..exceptions import ArtifactNotFoundError, InvalidFieldError
from ..manifest import Entry
from ._collections import collection_filters
from ._queries import collection_id, content_id
from ._records import COMMITTED, CollectionRecord, Page, RunRecord, VersionRecord
from ._rows import ENTRY_COLUMNS, collection_record, entries_of, run_record, version_rows
from ._runs import run_filters
from ._tx import Transactions
from .models import collections, entries, runs, versions

__all__ = [
    "DEFAULT_COUNT_CAP",
    "MAX_PAGE",
    "PagesMixin",
    "capped_count",
    "decode_cursor",
    "encode_cursor",
]

MAX_PAGE = 1000  # rows per page at most
DEFAULT_COUNT_CAP = 10_000  # count this many matches at most (the rest is "10,000+")


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    """An opaque cursor continuing a ``kind`` listing after the row whose sort key is ``key``.

    Example:
        >>> decode_cursor("runs", encode_cursor("runs", ["a", 1]))
        ['a', 1]
    """
    raw = json.dumps([kind, list(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> list[Any]:
    """The sort key a cursor of :func:`encode_cursor` holds; raises :class:`InvalidFieldError`
    for a cursor that is not one of a ``kind`` listing."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        got_kind, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if got_kind == kind and isinstance(key, list):
            return key
    except (ValueError, TypeError):
        pass
    raise InvalidFieldError(
        f"cursor {cursor[:40]!r} is not a cursor of this {kind} listing: pass the next_cursor "
        "of the page before, or leave it out for the first page",
        field="cursor",
        limit=f"a {kind} cursor",
    )


def _check(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidFieldError(
            f"limit={limit} is out of range: ask for 1 to {MAX_PAGE} rows per page",
            field="limit",
            limit=f"1..{MAX_PAGE}",
        )
    if offset < 0:
        raise InvalidFieldError(
            f"offset={offset} is negative: pass 0 or more", field="offset", limit=">= 0"
        )


def capped_count(conn: Connection, q: Any, cap: int) -> tuple[int, bool]:
    """``(count, exact)`` of the rows of ``q`` (a select of one key column), counting at most
    ``cap`` of them (``(cap, False)`` when there are more)."""
    n = int(
        conn.execute(select(func.count()).select_from(q.limit(cap + 1).subquery())).scalar_one()
    )
    return (cap, False) if n > cap else (n, True)


def _datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


class PagesMixin(Transactions):
    """Database-side pages (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def collection_summary(
        self, project: str, name: str, *, count_cap: int = DEFAULT_COUNT_CAP
    ) -> tuple[CollectionRecord, bool] | None:
        """``(collection, exact)``: one collection with its latest index and its number of
        committed versions counted for it alone and at most ``count_cap`` of them (``exact`` is
        False past the cap), in three indexed queries whose cost does not grow with the catalog
        or the collection (``collection()`` groups every version of the catalog); or None."""
        with self.read() as conn:
            row = conn.execute(
                select(collections).where(
                    collections.c.project == project, collections.c.name == name
                )
            ).first()
            if row is None:
                return None
            mine = and_(versions.c.collection_id == row.id, versions.c.state == COMMITTED)
            latest = conn.execute(select(func.max(versions.c.idx)).where(mine)).scalar()
            n, exact = capped_count(conn, select(versions.c.idx).where(mine), count_cap)
        return collection_record(row, n, latest), exact

    def page_versions(
        self,
        project: str,
        name: str,
        *,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
        newest_first: bool = True,
        states: Sequence[str] = (COMMITTED,),
        count_cap: int = DEFAULT_COUNT_CAP,
    ) -> Page[VersionRecord]:
        """One page of the versions of ``project/name``, newest first unless ``newest_first``
        is False (keyset on the version index)."""
        _check(limit, offset)
        with self.read() as conn:
            cid = collection_id(conn, project, name)
            match = and_(versions.c.collection_id == cid, versions.c.state.in_(list(states)))
            where = match
            if cursor is not None:
                (last,) = decode_cursor("versions", cursor)
                where = and_(
                    where, versions.c.idx < last if newest_first else versions.c.idx > last
                )
            order = versions.c.idx.desc() if newest_first else versions.c.idx
            rows = version_rows(conn, where, order=order, limit=limit + 1, offset=offset)
            total, exact = capped_count(conn, select(versions.c.idx).where(match), count_cap)
        more = len(rows) > limit
        items = rows[:limit]
        nxt = encode_cursor("versions", [items[-1].index]) if more else None
        return Page(tuple(items), total, exact, nxt, offset)

    def page_runs(
        self,
        *,
        orchestrator: str | None = None,
        pipeline: str | None = None,
        pipeline_run: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
        count_cap: int = DEFAULT_COUNT_CAP,
    ) -> Page[RunRecord]:
        """One page of runs, newest first (keyset on ``(started_at, id)``)."""
        _check(limit, offset)
        base = run_filters(select(runs), orchestrator, pipeline, pipeline_run, state)
        q = base
        if cursor is not None:
            started, run_id = decode_cursor("runs", cursor)
            at = _datetime(started)
            q = q.where(
                or_(runs.c.started_at < at, and_(runs.c.started_at == at, runs.c.id > run_id))
            )
        q = q.order_by(runs.c.started_at.desc(), runs.c.id).offset(offset).limit(limit + 1)
        keys = run_filters(select(runs.c.id), orchestrator, pipeline, pipeline_run, state)
        with self.read() as conn:
            rows = [run_record(r) for r in conn.execute(q)]
            total, exact = capped_count(conn, keys, count_cap)
        items = rows[:limit]
        nxt = None
        if len(rows) > limit:
            last = items[-1]
            nxt = encode_cursor("runs", [last.started_at.isoformat(), last.id])
        return Page(tuple(items), total, exact, nxt, offset)

    def page_collections(
        self,
        *,
        type: str | None = None,
        project: str | None = None,
        search: str | None = None,
        kind: str | None = None,
        in_details: bool = False,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
        count_cap: int = DEFAULT_COUNT_CAP,
    ) -> Page[CollectionRecord]:
        """One page of collections sorted by project and name (keyset on both), each with its
        number of committed versions and latest index (counted for the page's rows only)."""
        _check(limit, offset)
        filters: dict[str, Any] = {"type": type, "project": project, "search": search}
        filters.update(kind=kind, in_details=in_details)
        q = collection_filters(select(collections), **filters)
        if cursor is not None:
            p, nm = decode_cursor("collections", cursor)
            q = q.where(
                or_(
                    collections.c.project > p,
                    and_(collections.c.project == p, collections.c.name > nm),
                )
            )
        q = q.order_by(collections.c.project, collections.c.name).offset(offset).limit(limit + 1)
        with self.read() as conn:
            found = conn.execute(q).all()
            # the counts of the page's rows only, in one grouped query
            counts = {
                r.collection_id: (r.n, r.latest)
                for r in conn.execute(
                    select(
                        versions.c.collection_id,
                        func.count().label("n"),
                        func.max(versions.c.idx).label("latest"),
                    )
                    .where(
                        versions.c.collection_id.in_([r.id for r in found] or [-1]),
                        versions.c.state == COMMITTED,
                    )
                    .group_by(versions.c.collection_id)
                )
            }
            rows = [collection_record(r, *counts.get(r.id, (0, None))) for r in found]
            keys = collection_filters(select(collections.c.id), **filters)
            total, exact = capped_count(conn, keys, count_cap)
        items = rows[:limit]
        nxt = None
        if len(rows) > limit:
            nxt = encode_cursor("collections", [items[-1].project, items[-1].name])
        return Page(tuple(items), total, exact, nxt, offset)

    def page_entries(
        self,
        version_id: int,
        *,
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        bind: Any = None,
    ) -> Page[Entry]:
        """One page of the entries (files) of a version sorted by path (keyset on the path);
        ``total`` is the version's file count (no counting query)."""
        _check(limit, offset)
        with self.read() as conn:
            vid = content_id(conn, version_id)
            total = conn.execute(select(versions.c.file_count).where(versions.c.id == vid)).scalar()
            if total is None:
                raise ArtifactNotFoundError(f"version id {version_id} does not exist")
            q = select(*ENTRY_COLUMNS).where(entries.c.version_id == vid)
            if cursor is not None:
                (last,) = decode_cursor("entries", cursor)
                q = q.where(entries.c.path > last)
            q = q.order_by(entries.c.path).offset(offset).limit(limit + 1)
            found = list(entries_of(conn.execute(q).all(), bind).values())
        items = found[:limit]
        nxt = encode_cursor("entries", [items[-1].path]) if len(found) > limit else None
        return Page(tuple(items), int(total), True, nxt, offset)
