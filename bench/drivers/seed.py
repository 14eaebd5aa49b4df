"""Bulk seeding of artiflow's catalog for the resolve and lineage benchmarks (main venv).

Usage:
    seed.py versions --home H NAME N ALIAS    # SQLite: N versions of NAME, ALIAS on v(N//2)
    seed.py lineage --db-url U EDGES LENGTH   # PostgreSQL: EDGES run_io rows, chains of LENGTH

Logging 100,000 versions or 1,000,000 lineage edges one API call at a time would take hours, so
a few rows are made through the public API (they are the templates, with every column the core
fills) and then cloned in bulk with SQL (SQLite) or COPY (PostgreSQL) into artiflow's own tables
(``artiflow/catalog/models.py``: collections, versions, entries, aliases, runs, run_io).

Lineage graph: ``chains`` independent pipelines; in pipeline k, run j (1..LENGTH) uses
``chain<k>:v<j-1>`` and a side input ``side<k>:v<j-1>`` and logs ``chain<k>:v<j>``: three edges per
run. The benchmark asks for the upstream lineage of ``chain0:v<LENGTH>`` with depth 50.

Prints one line ``BENCH_RESULT {json}``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from typing import Any


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw, default=str), flush=True)


def _tiny(tmp: str, name: str, content: str) -> str:
    p = os.path.join(tmp, name)
    with open(p, "w") as fh:
        fh.write(content)
    return p


def seed_versions(home: str, name: str, n: int, alias: str) -> None:
    import sqlalchemy as sa

    from artiflow import Artifact, Registry

    reg = Registry(home=home)
    os.makedirs(home, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=home)
    for i in range(2):
        art = Artifact(name, type="model")
        art.add_file(_tiny(tmp, f"m{i}.json", f'{{"v": {i}}}'), name="model.json")
        reg.log(art)
    t0 = time.perf_counter()
    eng = sa.create_engine(reg.db_url)
    with eng.begin() as con:
        cid, tid = con.execute(
            sa.text(
                "SELECT v.collection_id, v.id FROM versions v JOIN collections c "
                "ON c.id = v.collection_id WHERE c.name = :n AND v.idx = 1"
            ),
            {"n": name},
        ).one()
        cols = [r[1] for r in con.exec_driver_sql("PRAGMA table_info(versions)")]
        cols = [c for c in cols if c != "id"]
        sel = ", ".join(
            "s.n" if c == "idx" else "printf('%064x', s.n)" if c == "digest" else f"t.{c}"
            for c in cols
        )
        con.execute(
            sa.text(
                f"INSERT INTO versions ({', '.join(cols)}) "
                "WITH RECURSIVE s(n) AS (SELECT 2 UNION ALL SELECT n + 1 FROM s WHERE n < :last) "
                f"SELECT {sel} FROM s JOIN versions t ON t.id = :tid"
            ),
            {"last": n - 1, "tid": tid},
        )
        ecols = [r[1] for r in con.exec_driver_sql("PRAGMA table_info(entries)")]
        ecols = [c for c in ecols if c != "id"]
        esel = ", ".join("v.id" if c == "version_id" else f"e.{c}" for c in ecols)
        con.execute(
            sa.text(
                f"INSERT INTO entries ({', '.join(ecols)}) SELECT {esel} FROM versions v "
                "JOIN entries e ON e.version_id = :tid WHERE v.collection_id = :cid AND v.idx >= 2"
            ),
            {"tid": tid, "cid": cid},
        )
        con.execute(
            sa.text("UPDATE collections SET next_index = :n WHERE id = :cid"), {"n": n, "cid": cid}
        )
        last_id = con.execute(
            sa.text("SELECT id FROM versions WHERE collection_id = :cid AND idx = :i"),
            {"cid": cid, "i": n - 1},
        ).scalar_one()
        # `latest` may be materialised as an alias row: point it at the newest version
        con.execute(
            sa.text(
                "UPDATE aliases SET version_id = :v WHERE collection_id = :cid AND alias = 'latest'"
            ),
            {"v": last_id, "cid": cid},
        )
        con.exec_driver_sql("ANALYZE")
    eng.dispose()
    reg.alias(f"{name}:v{n // 2}", alias)
    got = reg.get(f"{name}:{alias}")
    latest = reg.get(f"{name}:latest")
    emit(seconds=time.perf_counter() - t0, versions=n, alias_at=got.version, latest=latest.version)


def _rows(
    con: Any, sa: Any, table: str, where: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        dict(r._mapping) for r in con.execute(sa.text(f"SELECT * FROM {table} {where}"), params)
    ]


def seed_lineage(db_url: str, edges: int, length: int) -> None:
    import psycopg
    import sqlalchemy as sa
    from psycopg.types.json import Jsonb

    from artiflow import Artifact, Registry

    home = tempfile.mkdtemp(prefix="af-seed-")
    reg = Registry(db_url=db_url, home=home)
    # templates made through the public API: a run that uses one version and logs another
    inp = Artifact("tmpl-in", type="dataset")
    inp.add_file(_tiny(home, "in.txt", "in"))
    reg.log(inp)
    with reg.run("tmpl", orchestrator="manual") as run:
        run.use("tmpl-in:latest")
        out = Artifact("tmpl-out", type="dataset")
        out.add_file(_tiny(home, "out.txt", "out"))
        run.log(out)
    t0 = time.perf_counter()
    eng = sa.create_engine(reg.db_url)
    with eng.connect() as con:
        coll_t = _rows(con, sa, "collections", "WHERE name = :n", {"n": "tmpl-out"})[0]
        ver_t = _rows(con, sa, "versions", "WHERE collection_id = :c", {"c": coll_t["id"]})[0]
        run_t = _rows(con, sa, "runs", "WHERE name = :n", {"n": "tmpl"})[0]
        io_t = _rows(con, sa, "run_io", "WHERE run_id = :r", {"r": run_t["id"]})[0]
        ids = {
            t: con.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one()
            for t in ("collections", "versions", "run_io")
        }
    eng.dispose()

    chains = -(-edges // (3 * length))
    coll_id, ver_id, io_id = ids["collections"], ids["versions"], ids["run_io"]

    def adapt(v: Any) -> Any:
        return Jsonb(v) if isinstance(v, (dict, list)) else v

    conninfo = sa.engine.make_url(db_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as pg:
        cur = pg.cursor()

        def copy(table: str, template: dict[str, Any], rows: Any) -> int:
            cols = list(template)
            count = 0
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for over in rows:
                    rec = dict(template)
                    rec.update(over)
                    cp.write_row([adapt(rec[c]) for c in cols])
                    count += 1
            return count

        colls, vers, runs, ios = [], [], [], []
        for k in range(chains):
            chain_c, side_c = coll_id + 1, coll_id + 2
            coll_id += 2
            colls += [
                {"id": chain_c, "name": f"chain{k}", "next_index": length + 1},
                {"id": side_c, "name": f"side{k}", "next_index": length},
            ]
            chain_v = []
            for j in range(length + 1):
                ver_id += 1
                chain_v.append(ver_id)
                vers.append(
                    {"id": ver_id, "collection_id": chain_c, "idx": j, "digest": f"{ver_id:064x}"}
                )
            side_v = []
            for j in range(length):
                ver_id += 1
                side_v.append(ver_id)
                vers.append(
                    {"id": ver_id, "collection_id": side_c, "idx": j, "digest": f"{ver_id:064x}"}
                )
            for j in range(1, length + 1):
                rid = f"bench{k:06d}r{j:04d}"
                runs.append({"id": rid, "name": f"step{j}", "pipeline": f"chain{k}"})
                for vid, direction in (
                    (chain_v[j - 1], "used"),
                    (side_v[j - 1], "used"),
                    (chain_v[j], "logged"),
                ):
                    io_id += 1
                    ios.append(
                        {"id": io_id, "run_id": rid, "version_id": vid, "direction": direction}
                    )
        n_c = copy("collections", coll_t, colls)
        n_v = copy("versions", ver_t, vers)
        n_r = copy("runs", run_t, runs)
        n_e = copy("run_io", io_t, ios)
        for table in ("collections", "versions", "run_io"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        pg.commit()
        pg.autocommit = True
        for table in ("collections", "versions", "runs", "run_io", "aliases"):
            cur.execute(f"ANALYZE {table}")
    emit(
        seconds=time.perf_counter() - t0,
        collections=n_c,
        versions=n_v,
        runs=n_r,
        edges=n_e,
        target=f"chain0:v{length}",
    )


def main(argv: list[str]) -> None:
    cmd = argv[0]
    if cmd == "versions":
        assert argv[1] == "--home"
        seed_versions(argv[2], argv[3], int(argv[4]), argv[5])
    elif cmd == "lineage":
        assert argv[1] == "--db-url"
        seed_lineage(argv[2], int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
