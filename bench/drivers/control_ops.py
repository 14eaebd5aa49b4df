"""Driver of bench/scale.py's ``control`` group (main venv): lineage control on a seeded catalog.

Usage:
    control_ops.py [--db-url U] --home H COLLECTIONS ITERS

The catalog comes from ``catalog_seed.py`` (COLLECTIONS x 100 versions, ~5 edges per version):
``c<k>:v<i>`` (i >= 1) was built from ``c<k>:v<i-1..i-3>`` and ``c<k+1>:v0``, so about 200
versions are downstream of ``c<k>:v0``. Measured,
each beside the plain lineage query of the same root:

- ``impact``: ``Registry.impact("c<k>:v0", depth=5)`` (about 115 versions) vs
  ``Registry.lineage(..., direction="downstream", depth=5)`` of the same roots;
- ``resolve``: ``Registry.get("c<k>:a<j>")`` with nothing quarantined (A) and with 1,000
  versions quarantined (B: the leaves ``c<k>:v99``; the aliased versions stay clean, the worst
  case for a check that walks upstream), interleaved A B A B A B (each round quarantines the
  leaves and releases them again): the pooled median of B minus the pooled median of A, so
  the machine's drift hits both alike; the medians of each round are reported too;
- ``quarantine``: ``Registry.quarantine("hub:v0")``, a version the producing runs of every
  version of ``c1..c100`` consumed (added by SQL: 10,000 versions directly downstream, ~10,100
  in all; released and quarantined again per repetition) vs the downstream lineage of the same
  root at every depth.

Prints one line ``BENCH_RESULT {json}``.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from scale_ops import emit, open_registry, pct, summary

ROUNDS = 3  # A/B rounds of the resolve case (each quarantines and releases 1,000 versions)


def latencies(fn: Any, n: int) -> list[float]:
    """``n`` wall-clock latencies of ``fn()`` in seconds."""
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    return lat


def analyze(reg: Any) -> None:
    """Refresh the planner's statistics of the quarantine tables (PostgreSQL)."""
    from sqlalchemy import text

    with reg.catalog.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE quarantines"))
            conn.execute(text("ANALYZE quarantine_taints"))


def hub(reg: Any, n: int) -> str:
    """Log ``hub:v0`` and add a consumed edge to it from the producing run of every version of
    ``c1`` .. ``c<n>`` (one INSERT ... SELECT; a second run on the same catalog finds the
    same ``hub:v0`` and its edges); returns its ref."""
    import datetime as dt

    from sqlalchemy import bindparam, text

    from artiflow import Artifact

    art = Artifact("hub")
    with art.new_file("hub.txt") as f:
        f.write("hub")
    v = reg.log(art)
    stmt = text(
        """
        INSERT INTO run_io (run_id, version_id, direction, at)
        SELECT l.run_id, :hub, 'used', :at FROM run_io l
        JOIN versions v ON v.id = l.version_id
        JOIN collections c ON c.id = v.collection_id
        WHERE l.direction = 'logged' AND c.name IN :names
        ON CONFLICT DO NOTHING
        """
    ).bindparams(bindparam("names", expanding=True))
    with reg.catalog.write() as conn:
        conn.execute(
            stmt,
            {
                "hub": v.id,
                "at": dt.datetime.now(dt.timezone.utc),
                "names": [f"c{k}" for k in range(1, n + 1)],
            },
        )
    return str(v.ref)


def main(argv: list[str]) -> None:
    db_url = None
    if argv[0] == "--db-url":
        db_url, argv = argv[1], argv[2:]
    assert argv[0] == "--home"
    home, n_coll, iters = argv[1], int(argv[2]), int(argv[3])
    reg = open_registry(home, db_url)
    rnd = random.Random(11)
    out: dict[str, Any] = {"collections": n_coll}
    depth = 5
    low = min(depth + 1, n_coll)

    def root() -> str:
        return f"c{rnd.randint(low, n_coll)}:v0"

    # impact at depth 5, beside the plain downstream lineage of the same roots (one block each:
    # alternating them per root put every impact right after a lineage query ten times its
    # size, which measured the lineage query's wake more than the impact)
    roots = [root() for _ in range(iters + 5)]
    for r in roots[:5]:
        reg.impact(r, depth=depth)
    res: Any = None
    graph: Any = None
    im_lat = []
    for r in roots[5:]:
        t0 = time.perf_counter()
        res = reg.impact(r, depth=depth)
        im_lat.append(time.perf_counter() - t0)
    for r in roots[:5]:
        reg.lineage(r, direction="downstream", depth=depth)
    li_lat = []
    for r in roots[5:]:
        t0 = time.perf_counter()
        graph = reg.lineage(r, direction="downstream", depth=depth)
        li_lat.append(time.perf_counter() - t0)
    for key, lat in (("impact", im_lat), ("lineage", li_lat)):
        out[key] = summary(lat)
        out[key]["p95_ms"] = pct(lat, 0.95) * 1000
    out["impact_versions"] = len(res)
    out["lineage_nodes"] = len(graph.to_dict().get("nodes", []))

    # resolving an alias with nothing quarantined (A) and with 1,000 leaf versions quarantined
    # (B), interleaved A B A B ...: each round quarantines the leaves, then releases them, so
    # the machine's drift hits both states alike (the added cost: pooled p50 of B minus A)
    def resolve() -> Any:
        return reg.get(f"c{rnd.randint(1, n_coll)}:a{rnd.randrange(10)}")

    n_q = min(1000, n_coll)
    rounds = ROUNDS
    calls = max(1, iters * 3 // rounds)
    clean: list[float] = []
    held: list[float] = []
    rounds_out: list[dict[str, float]] = []
    q_s: list[float] = []
    latencies(resolve, 20)  # warm up
    for _ in range(rounds):
        latencies(resolve, 5)  # not timed: the first calls after a flip warm its pages
        a = latencies(resolve, calls)
        t0 = time.perf_counter()
        for k in range(1, n_q + 1):
            reg.quarantine(f"c{k}:v99", "bench: a leaf")
        q_s.append(time.perf_counter() - t0)
        analyze(reg)  # what autovacuum does after such a burst (1,000 rows in seconds)
        latencies(resolve, 5)
        b = latencies(resolve, calls)
        for k in range(1, n_q + 1):
            reg.release(f"c{k}:v99", note="bench")
        clean += a
        held += b
        rounds_out.append({"clean_p50_ms": pct(a, 0.5) * 1000, "held_p50_ms": pct(b, 0.5) * 1000})
    out["quarantine_leaves_s"] = min(q_s)
    out["quarantined"] = n_q
    out["resolve_clean"] = summary(clean)
    out["resolve_quarantined"] = summary(held)
    out["resolve_rounds"] = rounds_out
    out["resolve_added_ms"] = out["resolve_quarantined"]["p50_ms"] - out["resolve_clean"]["p50_ms"]

    # quarantining a version with ~10,000 downstream versions: "hub:v0", consumed by the runs
    # that logged every version of c1..c100 (added here: the seed's widest fan-out is ~200)
    target = hub(reg, min(100, n_coll))
    reps = 3
    q_lat, l_lat = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        reg.quarantine(target, "bench: 10k downstream")
        q_lat.append(time.perf_counter() - t0)
        reg.release(target, note="bench")
        t0 = time.perf_counter()
        g = reg.lineage(target, direction="downstream")
        l_lat.append(time.perf_counter() - t0)
    out["quarantine_s"] = q_lat
    out["quarantine_lineage_s"] = l_lat
    out["quarantine_downstream"] = len(reg.impact(target))
    out["quarantine_lineage_nodes"] = len(g.to_dict().get("nodes", []))
    emit(**out)


if __name__ == "__main__":
    main(sys.argv[1:])
