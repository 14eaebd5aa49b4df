"""Database-side pages (:mod:`artiflow.catalog._pages`) on SQLite and PostgreSQL: right items,
right counts, cursors stable while rows are inserted, and a page never reads every row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from artiflow.catalog import Catalog, RunRecord
from artiflow.catalog.models import versions
from artiflow.exceptions import ArtifactNotFoundError, InvalidFieldError
from artiflow.manifest import Entry, Manifest

UTC = dt.timezone.utc


@pytest.fixture(params=["sqlite", "postgres"])
def cat(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    catalog = Catalog.open(url)
    yield catalog
    catalog.close()


def _log(cat: Catalog, n: int, name: str = "ds", start: int = 0) -> None:
    for i in range(start, start + n):
        cat.commit_version("p", name, "dataset", entries=[], digest=f"{i:064d}", size=0)


def _bulk_versions(cat: Catalog, n: int) -> None:
    """``n`` committed versions of p/big, inserted in one statement (fast to set up)."""
    _log(cat, 1, "big")
    cid = cat.collection("p", "big").id  # type: ignore[union-attr]
    now = dt.datetime.now(UTC)
    rows = [
        {
            "collection_id": cid,
            "idx": i,
            "digest": f"{i:064d}",
            "size": 0,
            "file_count": 0,
            "state": "COMMITTED",
            "meta": {},
            "created_at": now,
            "committed_at": now,
        }
        for i in range(1, n)
    ]
    with cat.write() as conn:
        conn.execute(insert(versions), rows)


def _walk(fetch: Callable[[str | None], Any]) -> list[Any]:
    out, cursor = [], None
    while True:
        page = fetch(cursor)
        out.extend(page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


# ---- versions --------------------------------------------------------------------------------
def test_version_pages_cover_every_version_once(cat: Catalog) -> None:
    _log(cat, 7)
    first = cat.page_versions("p", "ds", limit=3)
    assert [v.index for v in first.items] == [6, 5, 4]
    assert (first.total, first.total_exact) == (7, True)
    got = _walk(lambda c: cat.page_versions("p", "ds", limit=3, cursor=c))
    assert [v.index for v in got] == [6, 5, 4, 3, 2, 1, 0]
    oldest = _walk(lambda c: cat.page_versions("p", "ds", limit=2, cursor=c, newest_first=False))
    assert [v.index for v in oldest] == list(range(7))
    by_offset = cat.page_versions("p", "ds", limit=3, offset=3)
    assert [v.index for v in by_offset.items] == [3, 2, 1]
    last = cat.page_versions("p", "ds", limit=7)
    assert last.next_cursor is None and len(last.items) == 7
    assert first.items[0].aliases == ("latest",)  # full records, labels included


def test_version_cursor_is_stable_across_inserts(cat: Catalog) -> None:
    _log(cat, 6)
    first = cat.page_versions("p", "ds", limit=3)
    _log(cat, 4, start=100)  # four newer versions land meanwhile
    second = cat.page_versions("p", "ds", limit=3, cursor=first.next_cursor)
    assert [v.index for v in second.items] == [2, 1, 0]
    assert second.total == 10
    shifted = cat.page_versions("p", "ds", limit=3, offset=3)  # an offset would shift
    assert [v.index for v in shifted.items] == [6, 5, 4]


def test_counts_are_capped(cat: Catalog) -> None:
    _log(cat, 5)
    page = cat.page_versions("p", "ds", limit=2, count_cap=3)
    assert (page.total, page.total_exact) == (3, False)
    assert cat.page_versions("p", "ds", limit=2, count_cap=5).total_exact


def test_bad_arguments_are_clear(cat: Catalog) -> None:
    _log(cat, 1)
    with pytest.raises(InvalidFieldError, match="limit=0"):
        cat.page_versions("p", "ds", limit=0)
    with pytest.raises(InvalidFieldError, match="negative"):
        cat.page_versions("p", "ds", offset=-1)
    runs_cursor = cat.page_runs(limit=1).next_cursor or "bm90LWEtY3Vyc29y"
    with pytest.raises(InvalidFieldError, match="not a cursor of this versions listing"):
        cat.page_versions("p", "ds", cursor=runs_cursor)
    with pytest.raises(ArtifactNotFoundError):
        cat.page_versions("p", "zz")
    with pytest.raises(ArtifactNotFoundError):
        cat.page_entries(10_000)


# ---- runs, collections, entries ----------------------------------------------------------------
def _run(cat: Catalog, run_id: str, started: dt.datetime, state: str = "SUCCESS") -> None:
    cat.create_run(
        RunRecord(
            run_id, run_id, "local", "pipe", "pr", None, None, None, None, state, started, None
        )
    )


def test_run_pages_keyset_on_time_then_id(cat: Catalog) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        _run(cat, f"r{i}", t0 + dt.timedelta(minutes=i))
    _run(cat, "r4b", t0 + dt.timedelta(minutes=4))  # same start as r4: the id breaks the tie
    _run(cat, "bad", t0, state="FAILED")
    got = _walk(lambda c: cat.page_runs(limit=2, cursor=c))
    assert [r.id for r in got] == [r.id for r in cat.list_runs()]
    assert [r.id for r in got][:3] == ["r4", "r4b", "r3"]
    failed = cat.page_runs(state="FAILED")
    assert ([r.id for r in failed.items], failed.total) == (["bad"], 1)
    assert cat.page_runs(limit=3).total == 7


def test_collection_pages_carry_counts_of_their_rows(cat: Catalog) -> None:
    for name in ("e", "a", "d", "b", "c"):
        _log(cat, 2 if name == "b" else 1, name)
    got = _walk(lambda c: cat.page_collections(limit=2, cursor=c))
    assert [c.name for c in got] == ["a", "b", "c", "d", "e"]
    assert [(c.version_count, c.latest_index) for c in got][:2] == [(1, 0), (2, 1)]
    assert got == cat.collections()
    page = cat.page_collections(search="c", limit=10)
    assert ([c.name for c in page.items], page.total) == (["c"], 1)


def test_entry_pages_count_by_file_count(cat: Catalog) -> None:
    files = {f"f{i:03d}": Entry(f"f{i:03d}", f"{i:064d}", i) for i in range(25)}
    row, _, _ = cat.commit_version(
        "p",
        "files",
        "dataset",
        entries=list(files.values()),
        digest=Manifest(files).digest(),
        size=0,
    )
    got = _walk(lambda c: cat.page_entries(row.id, limit=10, cursor=c))
    assert [e.path for e in got] == sorted(files)
    page = cat.page_entries(row.id, limit=10, offset=20)
    assert ([e.path for e in page.items], page.total) == (
        ["f020", "f021", "f022", "f023", "f024"],
        25,
    )
    link, _, _ = cat.commit_version(
        "p",
        "reg",
        "dataset",
        entries=[],
        digest=row.digest,
        size=0,
        kind="registry",
        target_id=row.id,
    )
    assert cat.page_entries(link.id, limit=5).total == 25  # a link pages its target's files


# ---- a page does not read every row -----------------------------------------------------------
@contextmanager
def _work(cat: Catalog) -> Iterator[dict[str, int]]:
    """Count statements, rows the server returned (PostgreSQL: the cursor's rowcount) and
    SQLite virtual-machine steps (its progress handler, every 100 instructions)."""
    seen = {"statements": 0, "rows": 0, "steps": 0}

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen["statements"] += 1
        if statement.lstrip().upper().startswith("SELECT") and cursor.rowcount > 0:
            seen["rows"] += cursor.rowcount

    def connected(dbapi_conn: Any, record: Any) -> None:
        if cat.dialect == "sqlite":
            dbapi_conn.set_progress_handler(
                lambda: seen.__setitem__("steps", seen["steps"] + 1) or 0, 100
            )

    cat.engine.dispose()  # new connections get the progress handler
    event.listen(cat.engine, "after_cursor_execute", after)
    event.listen(cat.engine, "connect", connected)
    try:
        yield seen
    finally:
        event.remove(cat.engine, "after_cursor_execute", after)
        event.remove(cat.engine, "connect", connected)
        cat.engine.dispose()


def test_a_page_reads_a_page_not_the_table(cat: Catalog) -> None:
    _bulk_versions(cat, 3000)
    with _work(cat) as page_work:
        page = cat.page_versions("p", "big", limit=20, count_cap=100)
    assert [v.index for v in page.items] == list(range(2999, 2979, -1))
    assert (page.total, page.total_exact) == (100, False)
    with _work(cat) as all_work:
        everything = cat.versions("p", "big")
    assert len(everything) == 3000
    assert page_work["statements"] <= 5  # (BEGIN,) collection id, page, labels, count
    if cat.dialect == "postgresql":
        assert page_work["rows"] <= 21 + 20 + 2  # the page (+1), its labels, count and id
        assert all_work["rows"] >= 3000
    else:
        assert page_work["steps"] * 10 < all_work["steps"], (page_work, all_work)


def test_versions_page_is_two_statements_with_the_same_rows(cat: Catalog) -> None:
    """``Catalog.versions`` pages by the collection's name in one query and reads the labels
    of the page by index range: the same records as reading each version by id."""
    for i in range(12):
        cat.commit_version(
            "p",
            "ds",
            "dataset",
            entries=[],
            digest=f"{i:064d}",
            size=0,
            aliases=[f"a{i % 4}"],
            tags=[f"t{i % 3}", "all"],
            metadata={"i": i},
        )
        cat.commit_version("p", "other", "dataset", entries=[], digest=f"{i:064d}", size=0)
    v5 = cat.resolve("p", "ds", "v5")
    cat.delete_version(v5.id, delete_aliases=True)
    cat.upsert("p", "ds", "dataset", "dist-1", [Entry("f", "e" * 64, 1)])
    states_all = ("COMMITTED", "DELETED", "PENDING")
    for states in (("COMMITTED",), states_all):
        for newest_first in (False, True):
            full = cat.versions("p", "ds", states=states, newest_first=newest_first)
            by_id = cat.versions_by_ids([v.id for v in full])
            assert full == [by_id[v.id] for v in full]
            assert len(full) == (11 if states == ("COMMITTED",) else 13)
            for offset in (0, 3, 10, 20):
                with _work(cat) as work:
                    cat.versions("p", "ds", limit=1)  # the new connection's setup, not counted
                    work["statements"] = 0
                    page = cat.versions(
                        "p", "ds", states=states, limit=4, offset=offset, newest_first=newest_first
                    )
                assert page == full[offset : offset + 4]
                if page:  # + the explicit BEGIN on SQLite
                    assert work["statements"] == (3 if cat.dialect == "sqlite" else 2), work
    assert cat.versions("p", "ds", limit=4, offset=50) == []
    with pytest.raises(ArtifactNotFoundError):
        cat.versions("p", "missing", limit=4)
