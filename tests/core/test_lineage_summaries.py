"""Lineage nodes read from summaries (``Catalog.version_summaries`` / ``run_summaries``, a few
statements for any number of versions) are the nodes the full records make, on SQLite and
PostgreSQL: aliases with ``latest`` first, pending and deleted versions, registry links, runs
with and without an end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from drafts import draft
from sqlalchemy import event, select

from artiflow import Registry
from artiflow.catalog.models import versions
from artiflow.serialize import run_node, version_node


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "sqlite":
        r = Registry(home=tmp_path / "home")
    else:
        url = str(request.getfixturevalue("pg_url"))
        r = Registry(db_url=url, store_url=str(tmp_path / "store"))
    yield r
    r.close()


def _graph(reg: Registry) -> tuple[list[int], list[str]]:
    """Versions of every kind around ``hub:v0``; returns (version ids, run ids)."""
    hub = reg.log(draft("hub", files={"a": "0"}), aliases=["production", "best"])
    reg.log(draft("hub", files={"a": "1"}))  # hub:v0 is not latest
    run_ids = []
    made = []
    for k in range(3):
        with reg.run(f"train-{k}", task="fit", pipeline="nightly") as run:
            run.use(hub)
            made.append(run.log(draft("derived", files={"m": str(k)}), aliases=[f"a{k}"]))
        run_ids.append(run.id)
    reg.link(made[1], "model-registry/churn", aliases=["staging"])
    made[0].delete(delete_aliases=True)
    open_run = reg.run("still-going")
    open_run.__enter__()
    open_run.use(hub)
    run_ids.append(open_run.id)
    with reg.context.catalog.read() as conn:
        ids = [r[0] for r in conn.execute(select(versions.c.id))]
    return ids, run_ids


def test_summaries_make_the_nodes_records_make(reg: Registry) -> None:
    ids, run_ids = _graph(reg)
    cat = reg.context.catalog
    summaries = cat.version_summaries([*ids, 10_000])  # a missing id is absent
    assert sorted(summaries) == sorted(ids)
    records = cat.versions_by_ids(ids)
    for vid in ids:
        assert version_node(summaries[vid]) == version_node(records[vid]), vid
    nodes = {version_node(s)["ref"]: version_node(s) for s in summaries.values()}
    assert nodes["default/hub:v0"]["aliases"] == ["best", "production"]
    assert nodes["default/hub:v1"]["aliases"] == ["latest"]
    assert nodes["default/derived:v0"]["state"] == "DELETED"
    assert nodes["default/derived:v2"]["aliases"] == ["latest", "a2"]
    assert nodes["model-registry/churn:v0"]["aliases"] == ["latest", "staging"]
    runs = cat.run_summaries([*run_ids, "nope"])
    assert sorted(runs) == sorted(run_ids)
    full = cat.runs_by_ids(run_ids)
    for rid in run_ids:
        assert run_node(runs[rid]) == run_node(full[rid]), rid
    assert any(run_node(r)["ended_at"] is None for r in runs.values())


def test_lineage_of_many_consumers_reads_a_few_statements(reg: Registry) -> None:
    """The graph's nodes are the records' nodes, and reading them takes the same few
    statements for 5 consumers as for 60 (no statement per version or run)."""
    counts = []
    for n in (5, 60):
        hub = reg.log(draft(f"hub{n}", files={"a": str(n)}))
        for k in range(n):
            with reg.run(f"r{n}-{k}") as run:
                run.use(hub)
                run.log(draft(f"out{n}", files={"m": str(k)}))
        engine = reg.context.catalog.engine
        seen: list[str] = []

        def count(*args: object, seen: list[str] = seen) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            g = reg.lineage(f"hub{n}:v0", direction="both")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(seen))
        assert len(g.versions()) == n + 1 and len(g.runs()) == n
        cat = reg.context.catalog
        vids = [int(node["id"].split(":")[1]) for node in g.versions()]
        records = cat.versions_by_ids(vids)
        for node in g.versions():
            assert node == version_node(records[int(node["id"].split(":")[1])])
        run_records = cat.runs_by_ids([node["run_id"] for node in g.runs()])
        for node in g.runs():
            assert node == run_node(run_records[node["run_id"]])
    assert counts[0] == counts[1], counts
