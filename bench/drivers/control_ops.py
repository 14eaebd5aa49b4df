"""Driver of bench/scale.py's ``control`` group (main venv): lineage control on a seeded catalog.

Usage:
    control_ops.py [--db-url U] --home H COLLECTIONS ITERS

The catalog comes from ``catalog_seed.py`` (COLLECTIONS x 100 versions, ~5 edges per version):
``c<k>:v<i>`` (i >= 1) was built from ``c<k>:v<i-1..i-3>`` and ``c<k+1>:v0``, so about 200
versions are downstream of ``c<k>:v0``. Measured,
each beside the plain lineage query of the same root:

- ``impact``: ``Registry.impact("c<k>:v0", depth=5)`` (about 500 versions) vs
  ``Registry.lineage(..., direction="downstream", depth=5)``;
- ``resolve``: ``Registry.get("c<k>:a<j>")`` with nothing quarantined, then with 1,000 versions
  quarantined (the leaves ``c<k>:v99``: the aliased versions stay clean, the worst case for a
  check that walks upstream), then released again: the median with them minus the mean of the
  medians before and after (the machine's drift cancels);
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


def timed(fn: Any, n: int, warm: int = 5) -> tuple[dict[str, float], Any]:
    out = None
    for _ in range(warm):
        out = fn()
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        lat.append(time.perf_counter() - t0)
    s = summary(lat)
    s["p95_ms"] = pct(lat, 0.95) * 1000
    return s, out


def analyze(reg: Any) -> None:
    """Refresh the planner's statistics of the quarantine tables (PostgreSQL)."""
    from sqlalchemy import text

    with reg.catalog.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE quarantines"))
            conn.execute(text("ANALYZE quarantine_taints"))


def hub(reg: Any, n: int) -> str:
    """Log ``hub:v0`` and add a consumed edge to it from the producing run of every version of
    ``c1`` .. ``c<n>`` (one INSERT ... SELECT); returns its ref."""
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

    # impact at depth 5, beside the plain downstream lineage of the same roots
    roots = [root() for _ in range(iters + 5)]
    it = iter(roots)
    out["impact"], res = timed(lambda: reg.impact(next(it), depth=depth), iters)
    out["impact_versions"] = len(res)
    it = iter(roots)
    out["lineage"], graph = timed(
        lambda: reg.lineage(next(it), direction="downstream", depth=depth), iters
    )
    out["lineage_nodes"] = len(graph.to_dict().get("nodes", []))

    # resolving an alias: nothing quarantined, then 1,000 (leaf) versions quarantined
    def resolve() -> Any:
        return reg.get(f"c{rnd.randint(1, n_coll)}:a{rnd.randrange(10)}")

    n_q = min(1000, n_coll)
    out["resolve_clean"], _ = timed(resolve, iters * 3, warm=20)
    t0 = time.perf_counter()
    for k in range(1, n_q + 1):
        reg.quarantine(f"c{k}:v99", "bench: a leaf")
    out["quarantine_leaves_s"] = time.perf_counter() - t0
    analyze(reg)  # what autovacuum does after such a burst (1,000 rows in seconds)
    out["quarantined"] = n_q
    out["resolve_quarantined"], _ = timed(resolve, iters * 3, warm=20)
    for k in range(1, n_q + 1):
        reg.release(f"c{k}:v99", note="bench")
    out["resolve_clean_after"], _ = timed(resolve, iters * 3, warm=20)
    clean = (out["resolve_clean"]["p50_ms"] + out["resolve_clean_after"]["p50_ms"]) / 2
    out["resolve_added_ms"] = out["resolve_quarantined"]["p50_ms"] - clean

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
