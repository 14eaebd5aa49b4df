"""Generate a big catalog with SQL, for bench/scale.py (main venv).

Usage:
    catalog_seed.py --db-url U --home H COLLECTIONS VERSIONS ENTRIES

artiflow first creates its schema (its own migrations, by opening the registry) and logs a few
template rows through the public API: a collection, a version with one entry, a run that uses one
version and logs another, an alias. Everything else is generated inside the database with
``generate_series`` (PostgreSQL) or a recursive CTE (SQLite), ``INSERT ... SELECT`` into
artiflow's own tables (``artiflow/catalog/models.py``), every column not generated copied from the
template row, so a column added by a later migration keeps its server-side value.

The shape, for C collections ``c1..cC`` of V versions ``v0..v(V-1)`` with E entries each:

- entries: ``data/part-000.bin`` ... (1 KiB each, distinct digests);
- runs and edges: version ``c<k>:v<i>`` is logged by run ``r<version id>``, which used
  ``c<k>:v<i-1>``, ``v<i-2>``, ``v<i-3>`` and the first version of the next collection
  (``c<k+1>:v0``): about 5 edges per version (4.93 M at C = 10,000, V = 100);
- aliases ``a0`` ... ``a9`` per collection on ``v0, v10, ..., v90`` (and ``latest`` when the
  core keeps it as a row).

The upstream lineage of ``c<k>:v<V-1>`` at depth 50 is 50 runs and 52 versions.

Prints one line ``BENCH_RESULT {json}`` with the counts and the seconds per table.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from typing import Any

TEMPLATE_ALIAS = "tmpl-alias"


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw, default=str), flush=True)


class Dialect:
    """The few SQL spellings that differ between PostgreSQL and SQLite."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def series(self, specs: list[tuple[str, str, str]]) -> tuple[str, str]:
        """``(WITH clause, FROM items)`` for integer series ``(alias, low expr, high expr)``."""
        if self.pg:
            return "", ", ".join(f"generate_series({lo}, {hi}) AS {a}(n)" for a, lo, hi in specs)
        ctes = [
            f"{a}(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM {a} WHERE n < {hi})"
            for a, lo, hi in specs
        ]
        return "WITH RECURSIVE " + ", ".join(ctes) + " ", ", ".join(a for a, _, _ in specs)

    def hex64(self, expr: str) -> str:
        return f"lpad(to_hex({expr}), 64, '0')" if self.pg else f"printf('%064x', {expr})"

    def pad3(self, expr: str) -> str:
        return f"lpad(({expr})::text, 3, '0')" if self.pg else f"printf('%03d', {expr})"

    def text(self, expr: str) -> str:
        return f"({expr})::text" if self.pg else f"CAST({expr} AS TEXT)"


def columns(con: Any, sa: Any, table: str) -> list[str]:
    return [c["name"] for c in sa.inspect(con).get_columns(table)]


def insert_select(
    con: Any,
    sa: Any,
    d: Dialect,
    table: str,
    template_id: Any,
    over: dict[str, str],
    series: list[tuple[str, str, str]],
    where: str = "",
    key: str = "id",
) -> int:
    """INSERT INTO table SELECT (generated columns, the rest from the template row)."""
    cols = [c for c in columns(con, sa, table) if c in over or c != key]
    sel = ", ".join(over.get(c, f"t.{c}") for c in cols)
    with_clause, from_items = d.series(series)
    sql = (
        f"INSERT INTO {table} ({', '.join(cols)}) {with_clause}SELECT {sel} FROM {from_items}, "
        f"{table} t WHERE t.{key} = :tid" + (f" AND {where}" if where else "")
    )
    return int(con.execute(sa.text(sql), {"tid": template_id}).rowcount or 0)


def seed(db_url: str | None, home: str, n_coll: int, n_ver: int, n_ent: int) -> None:
    import sqlalchemy as sa

    from artiflow import Artifact, Registry

    kw: dict[str, Any] = {"home": home}
    if db_url:
        kw["db_url"] = db_url
    reg = Registry(**kw)
    reg.collections()  # the schema, through artiflow's migrations
    tmp = tempfile.mkdtemp(dir=home)
    p_in, p_out = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
    with open(p_in, "wb") as fh:
        fh.write(b"i" * 1024)
    with open(p_out, "wb") as fh:
        fh.write(b"o" * 1024)
    inp = Artifact("tmpl-in", type="dataset")
    inp.add_file(p_in, name="data/part-000.bin")
    reg.log(inp)
    with reg.run("tmpl", orchestrator="manual") as run:
        run.use("tmpl-in:latest")
        out = Artifact("tmpl-out", type="dataset")
        out.add_file(p_out, name="data/part-000.bin")
        run.log(out)
    reg.alias("tmpl-out:v0", TEMPLATE_ALIAS)
    url = reg.db_url
    reg.close()

    eng = sa.create_engine(url)
    d = Dialect(eng.dialect.name)
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    C, V, E = n_coll, n_ver, n_ent
    with eng.begin() as con:
        q = lambda s, **p: con.execute(sa.text(s), p)  # noqa: E731
        tc = q("SELECT id FROM collections WHERE name = 'tmpl-out'").scalar_one()
        tv = q("SELECT id FROM versions WHERE collection_id = :c", c=tc).scalar_one()
        te = q("SELECT id FROM entries WHERE version_id = :v", v=tv).scalar_one()
        rid = q(
            "SELECT run_id FROM run_io WHERE version_id = :v AND direction = 'logged'", v=tv
        ).scalar_one()
        tio = q("SELECT id FROM run_io WHERE run_id = :r ORDER BY id LIMIT 1", r=rid).scalar_one()
        ta = q(
            "SELECT id FROM aliases WHERE collection_id = :c AND alias = :a", c=tc, a=TEMPLATE_ALIAS
        ).scalar_one()
        has_latest = bool(
            q(
                "SELECT count(*) FROM aliases WHERE collection_id = :c AND alias = 'latest'", c=tc
            ).scalar_one()
        )
        cb = q("SELECT max(id) FROM collections").scalar_one()
        vb = q("SELECT max(id) FROM versions").scalar_one()

    def step(name: str, fn: Any) -> None:
        t0 = time.perf_counter()
        with eng.begin() as con:
            counts[name] = counts.get(name, 0) + fn(con)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        print(f"# seeded {name}: {counts[name]:,} rows, {timings[name]:.1f} s", flush=True)

    # version id of (collection c in 1..C, index i in 0..V-1): vb + (c - 1) * V + i + 1
    step(
        "collections",
        lambda con: insert_select(
            con,
            sa,
            d,
            "collections",
            tc,
            {"id": f"{cb} + g.n", "name": "'c' || " + d.text("g.n"), "next_index": str(V)},
            [("g", "1", str(C))],
        ),
    )
    step(
        "versions",
        lambda con: insert_select(
            con,
            sa,
            d,
            "versions",
            tv,
            {
                "id": f"{vb} + (g.n - 1) * {V} + h.n + 1",
                "collection_id": f"{cb} + g.n",
                "idx": "h.n",
                "digest": d.hex64(f"{vb} + (g.n - 1) * {V} + h.n + 1"),
                "size": str(E * 1024),
                "file_count": str(E),
            },
            [("g", "1", str(C)), ("h", "0", str(V - 1))],
        ),
    )
    # entries in slices of collections: one transaction each (progress, bounded WAL)
    chunk = max(1, 2_000_000 // max(1, V * E))
    for lo in range(1, C + 1, chunk):
        hi = min(C, lo + chunk - 1)
        step(
            "entries",
            lambda con, lo=lo, hi=hi: insert_select(
                con,
                sa,
                d,
                "entries",
                te,
                {
                    "version_id": "v.n",
                    "path": "'data/part-' || " + d.pad3("k.n") + " || '.bin'",
                    "digest": d.hex64(f"(v.n - {vb}) * 1000 + k.n + {10**12}"),
                    "size": "1024",
                },
                [
                    ("v", f"{vb} + ({lo} - 1) * {V} + 1", f"{vb} + {hi} * {V}"),
                    ("k", "0", str(E - 1)),
                ],
            ),
        )
    step(
        "runs",
        lambda con: insert_select(
            con,
            sa,
            d,
            "runs",
            rid,
            {
                "id": "'r' || " + d.text("v.n"),
                "name": "'step'",
                "pipeline": "'c' || " + d.text(f"(v.n - {vb} - 1) / {V} + 1"),
            },
            [("v", f"{vb} + 1", f"{vb} + {C * V}")],
        ),
    )
    # edges: one "logged" per version, "used" for v-1, v-2, v-3 and the next collection's v0
    lag_specs = [
        ("logged", "v.n", "1 = 1"),
        ("used", "v.n - 1", f"(v.n - {vb} - 1) % {V} >= 1"),
        ("used", "v.n - 2", f"(v.n - {vb} - 1) % {V} >= 2"),
        ("used", "v.n - 3", f"(v.n - {vb} - 1) % {V} >= 3"),
        (
            "used",
            f"{vb} + (((v.n - {vb} - 1) / {V} + 1) % {C}) * {V} + 1",
            f"(v.n - {vb} - 1) % {V} >= 1 AND {C} > 1",
        ),
    ]
    for direction, target, cond in lag_specs:
        step(
            "run_io",
            lambda con, direction=direction, target=target, cond=cond: insert_select(
                con,
                sa,
                d,
                "run_io",
                tio,
                {
                    "run_id": "'r' || " + d.text("v.n"),
                    "version_id": target,
                    "direction": f"'{direction}'",
                },
                [("v", f"{vb} + 1", f"{vb} + {C * V}")],
                where=cond,
            ),
        )
    # aliases a0..a9 on v0, v10, ... (and latest on the newest when the core keeps that row)
    n_alias = min(10, V)
    step_v = max(1, V // n_alias)
    step(
        "aliases",
        lambda con: insert_select(
            con,
            sa,
            d,
            "aliases",
            ta,
            {
                "collection_id": f"{cb} + g.n",
                "alias": "'a' || " + d.text("j.n"),
                "version_id": f"{vb} + (g.n - 1) * {V} + j.n * {step_v} + 1",
            },
            [("g", "1", str(C)), ("j", "0", str(n_alias - 1))],
        ),
    )
    if has_latest:
        step(
            "aliases",
            lambda con: insert_select(
                con,
                sa,
                d,
                "aliases",
                ta,
                {
                    "collection_id": f"{cb} + g.n",
                    "alias": "'latest'",
                    "version_id": f"{vb} + g.n * {V}",
                },
                [("g", "1", str(C))],
            ),
        )
    t0 = time.perf_counter()
    with eng.begin() as con:
        if d.pg:
            for table in ("collections", "versions", "entries", "aliases", "run_io"):
                con.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    with eng.connect() as con:
        if d.pg:
            con = con.execution_options(isolation_level="AUTOCOMMIT")
            con.execute(sa.text("ANALYZE"))
        else:
            con.exec_driver_sql("ANALYZE")
            con.commit()
    timings["analyze"] = time.perf_counter() - t0
    eng.dispose()
    emit(
        seconds=sum(timings.values()),
        timings=timings,
        counts=counts,
        collections=C,
        versions=C * V,
        entries=counts.get("entries", 0),
        edges=counts.get("run_io", 0),
        aliases=counts.get("aliases", 0),
        dialect=eng.dialect.name,
    )


def main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--db-url")
    p.add_argument("--home", required=True)
    p.add_argument("collections", type=int)
    p.add_argument("versions", type=int)
    p.add_argument("entries", type=int)
    a = p.parse_args(argv)
    os.makedirs(a.home, exist_ok=True)
    seed(a.db_url, a.home, a.collections, a.versions, a.entries)


if __name__ == "__main__":
    main(sys.argv[1:])
