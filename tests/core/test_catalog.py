"""The catalog by domain — collections, resolve, writes, aliases and tags, collaborative
versions, runs, lineage SQL, gc reads — on SQLite and PostgreSQL, through the real
:class:`~artiflow.catalog.Catalog` (no mocks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from artiflow.catalog import (
    AliasEvent,
    AliasMove,
    Catalog,
    CollectionRecord,
    CollectionRow,
    RunRecord,
    VersionRecord,
    VersionRow,
)
from artiflow.catalog._closure import upstream_closure
from artiflow.catalog._control import upstream_steps
from artiflow.catalog._labels import MISSING, LabelEdit
from artiflow.catalog._rows import chunks
from artiflow.exceptions import (
    AliasInUseError,
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
)
from artiflow.manifest import Entry, Manifest

D = "d" * 64


@pytest.fixture(params=["sqlite", "postgres"])
def cat(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A fresh catalog on a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    catalog = Catalog.open(url)
    yield catalog
    catalog.close()


def _entry(path: str, body: str = "x") -> Entry:
    return Entry(path, (body * 64)[:64], len(body))


def _commit(cat: Catalog, name: str = "ds", digest: str = D, **kw: object) -> VersionRecord:
    kw.setdefault("entries", [])
    row, _, _ = cat.commit_version("p", name, "dataset", digest=digest, size=0, **kw)
    return row


def _run(cat: Catalog, run_id: str, started: dt.datetime | None = None) -> RunRecord:
    row = RunRecord(
        id=run_id,
        name=run_id,
        orchestrator="local",
        pipeline="pipe",
        pipeline_run="pr-1",
        task="t",
        try_number=1,
        map_index=None,
        host=None,
        state="RUNNING",
        started_at=started or dt.datetime.now(dt.timezone.utc),
        ended_at=None,
    )
    cat.create_run(row)
    return row


# ---- records ----------------------------------------------------------------------------------
def test_records_are_frozen_and_old_names_still_work(cat: Catalog) -> None:
    row = _commit(cat)
    assert VersionRow is VersionRecord and CollectionRow is CollectionRecord
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.size = 3  # type: ignore[misc]
    coll = cat.collection("p", "ds")
    assert isinstance(coll, CollectionRecord)
    assert (coll.version_count, coll.latest_index) == (1, 0)


def test_chunks_is_the_one_in_loop() -> None:
    assert [len(c) for c in chunks(list(range(1201)))] == [500, 500, 201]
    assert list(chunks([])) == []


# ---- collections ------------------------------------------------------------------------------
def test_collections_filter_and_count(cat: Catalog) -> None:
    _commit(cat, "alpha")
    _commit(cat, "beta")
    cat.commit_version("q", "gamma", "model", entries=[], digest=D, size=0)
    assert [c.name for c in cat.collections()] == ["alpha", "beta", "gamma"]
    assert [c.name for c in cat.collections(type="model")] == ["gamma"]
    assert [c.name for c in cat.collections(search="ET")] == ["beta"]
    assert cat.count_collections() == 3
    assert cat.count_collections(project="p") == 2
    assert cat.collection("p", "nope") is None


def test_type_and_kind_conflicts(cat: Catalog) -> None:
    _commit(cat)
    with pytest.raises(ConflictError, match="type 'dataset'"):
        cat.commit_version("p", "ds", "model", entries=[], digest=D, size=0)
    with pytest.raises(ConflictError, match="artifact collection"):
        cat.commit_version("p", "ds", "dataset", entries=[], digest=D, size=0, kind="registry")


# ---- resolve / queries ------------------------------------------------------------------------
def test_resolve_every_selector_kind(cat: Catalog) -> None:
    v0 = _commit(cat, digest="a" * 64, semver="1.0.0", aliases=["prod"], tags=["t1"])
    v1 = _commit(cat, digest="b" * 64)
    assert cat.resolve("p", "ds", "latest").id == v1.id
    assert cat.resolve("p", "ds", "v0").id == v0.id
    assert cat.resolve("p", "ds", "1.0.0").id == v0.id
    got = cat.resolve("p", "ds", "prod")
    assert (got.id, got.aliases, got.tags, got.is_latest) == (v0.id, ("prod",), ("t1",), False)
    assert cat.resolve("p", "ds", "v1").aliases == ("latest",)
    for selector, message in (
        ("v9", "does not exist"),
        ("staging", "no version with alias"),
    ):
        with pytest.raises(ArtifactNotFoundError, match=message):
            cat.resolve("p", "ds", selector)
    with pytest.raises(ArtifactNotFoundError, match="artifact p/zz does not exist"):
        cat.resolve("p", "zz", "latest")


def test_versions_entries_and_lookups(cat: Catalog) -> None:
    files = [_entry("b.txt", "b"), _entry("a.txt", "a"), _entry("c.txt", "c")]
    v0 = _commit(cat, entries=files, digest=Manifest({e.path: e for e in files}).digest())
    v1 = _commit(cat, digest="e" * 64)
    assert [v.index for v in cat.versions("p", "ds")] == [0, 1]
    assert [v.index for v in cat.versions("p", "ds", newest_first=True, limit=1)] == [1]
    assert list(cat.entries(v0.id)) == ["a.txt", "b.txt", "c.txt"]
    assert list(cat.entries(v0.id, limit=1, offset=1)) == ["b.txt"]
    assert list(cat.entries(v0.id, paths=["c.txt"])) == ["c.txt"]
    assert set(cat.versions_by_ids([v0.id, v1.id, 10_000])) == {v0.id, v1.id}
    assert cat.latest_digest("p", "ds") == "e" * 64
    assert cat.version_by_id(v0.id).file_count == 3
    with pytest.raises(ArtifactNotFoundError):
        cat.version_by_id(10_000)
    with pytest.raises(ArtifactNotFoundError):
        cat.versions("p", "zz")


# ---- writes -----------------------------------------------------------------------------------
def test_commit_noop_when_latest_has_the_digest(cat: Catalog) -> None:
    row, created, moves = cat.commit_version("p", "ds", "dataset", entries=[], digest=D, size=0)
    assert created and moves == [AliasMove("p", "ds", "latest", 0, None)]
    again, created, moves = cat.commit_version(
        "p", "ds", "dataset", entries=[], digest=D, size=0, aliases=["prod"]
    )
    assert (again.id, created) == (row.id, False)
    assert moves == [AliasMove("p", "ds", "prod", 0, None)]


def test_commit_many_is_atomic_and_accepts_both_type_keys(cat: Catalog) -> None:
    ok = {"project": "p", "name": "a", "type": "dataset", "entries": [], "digest": D, "size": 0}
    bad = {"project": "p", "name": "b", "type_": "dataset", "entries": [], "digest": D, "size": 0}
    cat.commit_many([ok, bad])
    assert cat.count_collections() == 2
    clash = dict(bad, type_="model", name="a")
    fresh = dict(ok, name="c")
    with pytest.raises(ConflictError):
        cat.commit_many([fresh, clash])
    assert cat.collection("p", "c") is None  # all or nothing


def test_semver_is_unique(cat: Catalog) -> None:
    _commit(cat, digest="a" * 64, semver="1.0.0")
    with pytest.raises(ConflictError, match="already has version 1.0.0"):
        _commit(cat, digest="b" * 64, semver="1.0.0")


def test_delete_version_moves_latest_and_keeps_aliases_safe(cat: Catalog) -> None:
    v0 = _commit(cat, digest="a" * 64)
    v1 = _commit(cat, digest="b" * 64, aliases=["prod"])
    with pytest.raises(AliasInUseError):
        cat.delete_version(v1.id)
    row, moves = cat.delete_version(v1.id, delete_aliases=True)
    assert row.state == "DELETED"
    assert moves == [
        AliasMove("p", "ds", "prod", None, 1),
        AliasMove("p", "ds", "latest", 0, 1),
    ]
    assert cat.resolve("p", "ds", "latest").id == v0.id
    assert cat.delete_version(v1.id) == (row, [])
    history = cat.alias_events("p", "ds")
    assert [(e.alias, e.version, e.previous) for e in history] == [
        ("prod", None, "v1"),
        ("prod", "v1", None),
    ]


# ---- aliases and tags -------------------------------------------------------------------------
def test_set_alias_moves_and_compare_and_set(cat: Catalog) -> None:
    v0 = _commit(cat, digest="a" * 64, aliases=["prod"])
    v1 = _commit(cat, digest="b" * 64)
    row, move = cat.set_alias(v1.id, "prod", run_id=None)
    assert move == AliasMove("p", "ds", "prod", 1, 0) and "prod" in row.aliases
    assert cat.version_by_id(v0.id).revision == 1 + v0.revision  # the old holder was bumped
    assert cat.set_alias(v1.id, "prod")[1] is None  # already there
    with pytest.raises(ConflictError, match="is on v1, not on v0"):
        cat.set_alias(v0.id, "prod", expected=0)
    assert cat.set_alias(v0.id, "prod", expected=1)[1] == AliasMove("p", "ds", "prod", 0, 1)


def test_alias_history_dicts_match_events(cat: Catalog) -> None:
    v0 = _commit(cat, digest="a" * 64, aliases=["prod"])
    events = cat.alias_events("p", "ds")
    assert all(isinstance(e, AliasEvent) for e in events)
    assert cat.alias_history("p", "ds") == [e.to_dict() for e in events]
    assert cat.alias_history("p", "ds", alias="nope") == []
    assert events[0].version == v0.version
    with pytest.raises(ArtifactNotFoundError):
        cat.alias_history("p", "zz")


def test_update_version_applies_and_conflicts(cat: Catalog) -> None:
    v0 = _commit(cat, digest="a" * 64, aliases=["old"], tags=["keep", "drop"])
    edit = LabelEdit(
        revision=v0.revision,
        alias_seq=v0.alias_seq,
        description=(None, "new text"),
        metadata={"k": (MISSING, 1)},
        tags_added=("fresh",),
        tags_removed=("drop",),
        aliases_added=("new",),
        aliases_removed=("old",),
    )
    row, moves = cat.update_version(v0.id, edit)
    assert (row.description, row.metadata) == ("new text", {"k": 1})
    assert row.tags == ("fresh", "keep")
    assert [a for a in row.aliases if a != "latest"] == ["new"]
    assert [(m.alias, m.version_index) for m in moves] == [("new", 0), ("old", None)]
    assert row.revision > v0.revision
    stale = LabelEdit(revision=v0.revision, alias_seq=v0.alias_seq, description=(None, "x"))
    with pytest.raises(ConflictError, match="description changed"):
        cat.update_version(v0.id, stale)
    strict = LabelEdit(revision=v0.revision, alias_seq=0, expected_revision=v0.revision)
    with pytest.raises(ConflictError, match="revision"):
        cat.update_version(v0.id, strict)


# ---- collaborative ----------------------------------------------------------------------------
def test_upsert_then_finish(cat: Catalog) -> None:
    vid = cat.upsert("p", "ds", "dataset", "d-1", [_entry("a", "a")], metadata={"x": 1})
    assert cat.upsert("p", "ds", "dataset", "d-1", [_entry("b", "b")], metadata={"y": 2}) == vid
    with pytest.raises(ConflictError, match="different content"):
        cat.upsert("p", "ds", "dataset", "d-1", [_entry("a", "z")])
    row, created, moves = cat.finish("p", "ds", "dataset", "d-1", [], aliases=["prod"])
    assert (row.id, row.index, row.file_count, created) == (vid, 0, 2, True)
    assert row.metadata == {"x": 1, "y": 2}
    assert [m.alias for m in moves] == ["latest", "prod"]
    with pytest.raises(ArtifactFinalizedError):
        cat.upsert("p", "ds", "dataset", "d-1", [])


def test_stale_pending_leaves_a_tombstone(cat: Catalog) -> None:
    cat.upsert("p", "ds", "dataset", "d-2", [_entry("a", "a")])
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert cat.remove_stale_pending(future) == 1
    with pytest.raises(ConflictError, match="removed by gc"):
        cat.finish("p", "ds", "dataset", "d-2", [])


# ---- runs -------------------------------------------------------------------------------------
def test_runs_and_edges(cat: Catalog) -> None:
    first = _run(cat, "r1", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    _run(cat, "r2", dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc))
    v0 = _commit(cat, digest="a" * 64, run_id="r1")
    cat.record_io("r2", v0.id, "used")
    cat.record_io("r2", v0.id, "used")  # idempotent
    assert [r.id for r in cat.list_runs()] == ["r2", "r1"]
    assert cat.count_runs(pipeline="pipe") == 2
    assert cat.runs_by_ids(["r1", "zz"]) == {"r1": first}
    assert cat.io_of_versions([v0.id], "used") == [("r2", v0.id)]
    assert cat.io_of_runs(["r1"], "logged") == [("r1", v0.id)]
    ended = cat.finish_run("r1", "SUCCESS")
    assert ended is not None and cat.runs_by_ids(["r1"])["r1"].state == "SUCCESS"
    assert cat.finish_run("nope", "SUCCESS") is None
    got = cat.produced_in("p", "ds", orchestrator="local", pipeline_run="pr-1")
    assert got is not None and got.id == v0.id


# ---- lineage SQL and links --------------------------------------------------------------------
def test_lineage_edges_and_links(cat: Catalog) -> None:
    _run(cat, "r1")
    _run(cat, "r2")
    raw = _commit(cat, "raw", digest="a" * 64, run_id="r1")
    cat.record_io("r2", raw.id, "used")
    clean = _commit(cat, "clean", digest="b" * 64, run_id="r2")
    assert sorted(cat.lineage_edges(clean.id, upstream=True, depth=None)) == [
        ("r1", raw.id, None),
        ("r2", clean.id, raw.id),
    ]
    assert sorted(cat.lineage_edges(raw.id, upstream=False, depth=1)) == [("r2", raw.id, clean.id)]
    assert not cat.has_links()
    link, _, _ = cat.commit_version(
        "p",
        "reg",
        "dataset",
        entries=[],
        digest="b" * 64,
        size=0,
        kind="registry",
        target_id=clean.id,
    )
    assert cat.has_links()
    assert cat.links_of([clean.id]) == [(link.id, clean.id)]


def _walk_levels(cat: Catalog, version_id: int) -> list[int]:
    """The upstream closure walked one level per statement (the reference answer)."""
    seen, level = {version_id}, [version_id]
    with cat.read() as conn:
        while level:
            nxt = [s for _v, _r, s in upstream_steps(conn, level) if s not in seen]
            seen.update(nxt)
            level = list(dict.fromkeys(nxt))
    seen.discard(version_id)
    return sorted(seen)


def test_upstream_closure_is_one_query_with_links_and_cycles(cat: Catalog) -> None:
    for r in ("r1", "r2", "r3", "r4"):
        _run(cat, r)
    raw = _commit(cat, "raw", digest="a" * 64, run_id="r1")
    cat.record_io("r1", raw.id, "used")  # a run re-logging what it consumed: no step
    cat.record_io("r2", raw.id, "used")
    clean = _commit(cat, "clean", digest="b" * 64, run_id="r2")
    link, _, _ = cat.commit_version(
        "p",
        "reg",
        "dataset",
        entries=[],
        digest="b" * 64,
        size=0,
        kind="registry",
        target_id=clean.id,
    )
    cat.record_io("r3", link.id, "used")
    cat.record_io("r3", raw.id, "used")
    model = _commit(cat, "model", digest="c" * 64, run_id="r3")
    cat.record_io("r4", model.id, "used")
    cat.record_io("r4", clean.id, "used")
    cat.record_io("r4", raw.id, "logged")  # a cycle: raw is also logged by a run using model
    with cat.read() as conn:
        got = {v.id: upstream_closure(conn, v.id) for v in (raw, clean, link, model)}
    assert got[model.id] == sorted([raw.id, clean.id, link.id])
    assert got[link.id] == sorted([clean.id, raw.id, model.id])
    assert got[raw.id] == sorted([model.id, clean.id, link.id])
    for vid, ids in got.items():
        assert ids == _walk_levels(cat, vid)
    with cat.read() as conn:
        assert upstream_closure(conn, 10_000) == []


# ---- gc side ----------------------------------------------------------------------------------
def test_live_digests(cat: Catalog) -> None:
    kept = _entry("a", "a")
    gone = _entry("b", "b")
    _commit(cat, "keep", entries=[kept], digest="a" * 64)
    row = _commit(cat, "drop", entries=[gone], digest="b" * 64)
    assert cat.live_digests() == {kept.digest, gone.digest}
    cat.delete_version(row.id)
    assert cat.live_digests() == {kept.digest}
    assert gone.digest in cat.live_digests(
        deleted_since=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    )
