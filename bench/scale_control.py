"""The ``control`` group of bench/scale.py (issue 14 "Performance"): impact, resolve under
quarantine and quarantine itself on the SQL-generated 1M-version catalog, in PostgreSQL, each
beside the plain lineage query. The timed work runs in ``drivers/control_ops.py``.

Sizes: ``--scale`` multiplies the 10,000 collections x 100 versions (~5 M edges) like the
``catalog`` group; ``--smoke`` uses 20 collections.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from run import DRIVERS, MAIN_PY, Case, drive, rmtree

CONTROL_OPS = DRIVERS / "control_ops.py"
SEED = DRIVERS / "catalog_seed.py"

CONTROL_CASES = [
    Case(
        "control_impact_d5_p95_pg",
        "control",
        "<=50ms",
        "p95 of Registry.impact(c<k>:v0, depth=5) (PostgreSQL, 1M versions, 5M edges)",
    ),
    Case(
        "control_resolve_q1000_added_p50_pg",
        "control",
        "<=0.2ms",
        "p50 of resolving c<k>:a<j> with 1,000 versions quarantined minus with none (ABAB)",
    ),
    Case(
        "control_quarantine_10k_pg",
        "control",
        "<=2s",
        "Registry.quarantine() of a version with 10,000+ versions downstream (best of 3)",
    ),
]


def _ms(st: dict[str, Any], key: str) -> str:
    return f"{st[key]:.2f} ms"


def group_control(b: Any, pg_database: Callable[[str], Any]) -> None:
    """Seed the catalog in a scratch PostgreSQL database, run the driver, report the cases."""
    a = b.args
    names = [c.name for c in CONTROL_CASES]
    n_coll = 20 if a.smoke else max(2, round(10_000 * a.scale))
    iters = 30 if a.smoke else 200
    with pg_database(f"control_{os.getpid()}") as url:
        if url is None:
            b.skip(names, "no PostgreSQL at 127.0.0.1:5432")
            return
        home = b.work / "control-pg"
        rmtree(home)
        s = drive(MAIN_PY, SEED, "--db-url", url, "--home", home, n_coll, 100, 1, timeout=7200)
        seeded = (
            f"{s['versions']:,} versions, {s['edges']:,} edges, {s['aliases']:,} aliases "
            f"(generated in {s['seconds']:.0f} s)"
        )
        print(f"# control pg: {seeded}", flush=True)
        r = drive(MAIN_PY, CONTROL_OPS, "--db-url", url, "--home", home, n_coll, iters)
        rmtree(home)
    im, li = r["impact"], r["lineage"]
    b.report(
        "control_impact_d5_p95_pg",
        im["p95_ms"],
        f"{seeded}; impact: p50 {_ms(im, 'p50_ms')}, p95 {_ms(im, 'p95_ms')}, "
        f"{r['impact_versions']} versions; plain downstream lineage depth 5 of the same roots: "
        f"p50 {_ms(li, 'p50_ms')}, p95 {_ms(li, 'p95_ms')}, {r['lineage_nodes']} nodes; "
        f"{im['n']} calls each",
    )
    c, q = r["resolve_clean"], r["resolve_quarantined"]
    per_round = ", ".join(
        f"{x['clean_p50_ms']:.2f}/{x['held_p50_ms']:.2f}" for x in r["resolve_rounds"]
    )
    b.report(
        "control_resolve_q1000_added_p50_pg",
        r["resolve_added_ms"],
        f"{seeded}; resolve p50 {_ms(c, 'p50_ms')} (p99 {_ms(c, 'p99_ms')}) with nothing "
        f"quarantined vs {_ms(q, 'p50_ms')} (p99 {_ms(q, 'p99_ms')}) with {r['quarantined']:,} "
        f"quarantined, interleaved A B A B A B (per round none/{r['quarantined']:,}: {per_round} ms; "
        f"quarantining them took {r['quarantine_leaves_s']:.1f} s at best); {c['n']} calls each",
    )
    qs, ls = r["quarantine_s"], r["quarantine_lineage_s"]
    b.report(
        "control_quarantine_10k_pg",
        min(qs),
        f"{seeded}; {r['quarantine_downstream']:,} versions downstream; quarantine "
        f"{', '.join(f'{x:.3f}' for x in qs)} s; plain downstream lineage of the same root "
        f"(every depth): {', '.join(f'{x:.3f}' for x in ls)} s, "
        f"{r['quarantine_lineage_nodes']:,} nodes",
    )
