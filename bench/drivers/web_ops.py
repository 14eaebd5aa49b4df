"""The web page at scale (issue 15, item 3): seed by SQL, serve, time the page in Chromium.

Usage (main venv; ``bench/scale.py --only web`` runs all of it):

    web_ops.py seed --home H [--db-url U] VERSIONS FILES CONSUMERS
    web_ops.py browse BASE_URL REPS EXPECT_JSON

``seed`` makes, in a registry artiflow creates (its migrations, template rows logged through
the public API), with ``INSERT ... SELECT`` over ``generate_series`` / a recursive CTE
(``catalog_seed.py``'s helpers, whose own cases are unchanged):

- ``default/wide``: VERSIONS versions (one 1 KiB entry each, the template's blob);
- ``default/big-files:v0``: FILES entries ``data/part-0000000.bin`` ... (distinct digests);
- ``default/hub:v0``, used by CONSUMERS runs of one task (``fanout.train``), run ``k`` logging
  ``default/derived:v<k>``: the lineage of ``hub:v0`` has CONSUMERS direct consumers.

``browse`` opens each page in a fresh Chromium context (cold HTTP cache) REPS times and reports,
per repetition, the time from navigation start (``performance.timeOrigin``) to the first page's
rows being in the DOM (a MutationObserver installed before the page's scripts) and to the next
animation frame (rendered), plus the API calls' durations from Resource Timing (server + transfer
vs the browser's own work). The lineage page also reports the nodes drawn and the time of a click
on a collapsed group (handler + next frame).

Each command prints one line ``BENCH_RESULT {json}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
PAGES = ("collection", "files", "lineage")


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw, default=str), flush=True)


# --------------------------------------------------------------------------------------------
# seed
# --------------------------------------------------------------------------------------------
def seed(db_url: str | None, home: str, n_ver: int, n_files: int, n_cons: int) -> None:
    import sqlalchemy as sa
    from catalog_seed import Dialect, insert_select

    from artiflow import Artifact, Registry

    kw: dict[str, Any] = {"home": home}
    if db_url:
        kw["db_url"] = db_url
    reg = Registry(**kw)
    tmp = tempfile.mkdtemp(dir=home)
    blob = os.path.join(tmp, "part.bin")
    with open(blob, "wb") as fh:
        fh.write(b"w" * 1024)
    for name in ("wide", "big-files"):
        a = Artifact(name, type="dataset", description=f"web bench: {name}")
        a.add_file(blob, name="data/part-0000000.bin")
        reg.log(a)
    hub = Artifact("hub", type="dataset", description="web bench: used by many runs")
    hub.add_file(blob, name="data/part-0000000.bin")
    reg.log(hub)
    with reg.run("train", orchestrator="manual", pipeline="fanout", task="train") as run:
        run.use("hub:v0")
        out = Artifact("derived", type="model")
        out.add_file(blob, name="model.bin")
        run.log(out)
    url = reg.db_url
    reg.close()

    eng = sa.create_engine(url)
    d = Dialect(eng.dialect.name)
    timings: dict[str, float] = {}

    def q(con: Any, sql: str, **p: Any) -> Any:
        return con.execute(sa.text(sql), p)

    with eng.begin() as con:
        ids = {
            n: q(con, "SELECT id FROM collections WHERE name = :n", n=n).scalar_one()
            for n in ("wide", "big-files", "hub", "derived")
        }
        ver = {
            n: q(con, "SELECT id FROM versions WHERE collection_id = :c", c=c).scalar_one()
            for n, c in ids.items()
        }
        ent = {
            n: q(con, "SELECT id FROM entries WHERE version_id = :v", v=v).scalar_one()
            for n, v in ver.items()
        }
        rid = q(
            con, "SELECT run_id FROM run_io WHERE version_id = :v", v=ver["derived"]
        ).scalar_one()
        tio = q(con, "SELECT id FROM run_io WHERE run_id = :r ORDER BY id LIMIT 1", r=rid).scalar()
        vb = q(con, "SELECT max(id) FROM versions").scalar_one()

    def step(name: str, fn: Any) -> int:
        t0 = time.perf_counter()
        with eng.begin() as con:
            n = int(fn(con))
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        print(f"# seeded {name}: {n:,} rows, {timings[name]:.1f} s", flush=True)
        return n

    def versions_of(coll: str, count: int, first_id: int) -> None:
        """Versions v1..v(count-1) of ``coll``: ids first_id + 1 .. first_id + count - 1."""
        if count < 2:
            return
        step(
            f"{coll} versions",
            lambda con: insert_select(
                con,
                sa,
                d,
                "versions",
                ver[coll],
                {
                    "id": f"{first_id} + g.n",
                    "idx": "g.n",
                    "digest": d.hex64(f"{first_id} + g.n + {10**9}"),
                },
                [("g", "1", str(count - 1))],
            ),
        )
        step(
            f"{coll} entries",
            lambda con: insert_select(
                con,
                sa,
                d,
                "entries",
                ent[coll],
                {"version_id": f"{first_id} + g.n"},
                [("g", "1", str(count - 1))],
            ),
        )
        with eng.begin() as con:
            q(con, "UPDATE collections SET next_index = :n WHERE id = :c", n=count, c=ids[coll])

    # wide: n_ver versions
    versions_of("wide", n_ver, vb)
    # derived: one version per consumer run (ids after wide's)
    vd = vb + max(0, n_ver - 1)
    versions_of("derived", n_cons, vd)
    if n_cons > 1:
        step(
            "runs",
            lambda con: insert_select(
                con,
                sa,
                d,
                "runs",
                rid,
                {"id": "'w' || " + d.text("g.n")},
                [("g", "1", str(n_cons - 1))],
            ),
        )
        for direction, target in (("used", str(ver["hub"])), ("logged", f"{vd} + g.n")):
            step(
                f"run_io {direction}",
                lambda con, direction=direction, target=target: insert_select(
                    con,
                    sa,
                    d,
                    "run_io",
                    tio,
                    {
                        "run_id": "'w' || " + d.text("g.n"),
                        "version_id": target,
                        "direction": f"'{direction}'",
                    },
                    [("g", "1", str(n_cons - 1))],
                ),
            )
    # big-files:v0: n_files entries in one version
    path = (
        "'data/part-' || lpad((g.n)::text, 7, '0') || '.bin'"
        if d.pg
        else "'data/part-' || printf('%07d', g.n) || '.bin'"
    )
    chunk = 250_000
    for lo in range(1, n_files, chunk):
        hi = min(n_files - 1, lo + chunk - 1)
        step(
            "big-files entries",
            lambda con, lo=lo, hi=hi: insert_select(
                con,
                sa,
                d,
                "entries",
                ent["big-files"],
                {"path": path, "digest": d.hex64(f"g.n + {10**12}")},
                [("g", str(lo), str(hi))],
            ),
        )
    with eng.begin() as con:
        q(
            con,
            "UPDATE versions SET file_count = :n, size = :s WHERE id = :v",
            n=n_files,
            s=n_files * 1024,
            v=ver["big-files"],
        )
        if d.pg:
            for table in ("versions", "entries", "run_io"):
                q(
                    con,
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))",
                )
    t0 = time.perf_counter()
    with eng.connect() as con:
        if d.pg:
            con.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
        else:
            con.exec_driver_sql("ANALYZE")
            con.commit()
    timings["analyze"] = time.perf_counter() - t0
    eng.dispose()
    emit(
        seconds=sum(timings.values()),
        timings=timings,
        versions=n_ver,
        files=n_files,
        consumers=n_cons,
        dialect=eng.dialect.name,
    )


# --------------------------------------------------------------------------------------------
# browse
# --------------------------------------------------------------------------------------------
OBSERVER = """
(() => {
  const want = %s;
  const af = (window.__af = { dom: null, paint: null });
  const check = () => {
    if (af.dom !== null) return;
    if (document.querySelectorAll(want.selector).length >= want.count) {
      af.dom = performance.now();
      obs.disconnect();
      requestAnimationFrame(() => { af.paint = performance.now(); });
    }
  };
  const obs = new MutationObserver(check);
  obs.observe(document, { childList: true, subtree: true, attributes: true });
})();
"""

CLICK = """
(sel) => new Promise((resolve) => {
  const el = document.querySelector(sel);
  if (!el) { resolve(null); return; }
  const before = document.querySelectorAll(".canvas svg .nodes > a, .canvas svg .nodes > g").length;
  const t0 = performance.now();
  el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
  const t1 = performance.now();
  requestAnimationFrame(() => setTimeout(() => {
    const after = document.querySelectorAll(".canvas svg .nodes > a, .canvas svg .nodes > g").length;
    resolve({ handler_ms: t1 - t0, frame_ms: performance.now() - t0, before, after });
  }, 0));
})
"""

API_TIMES = """
() => performance.getEntriesByType("resource")
  .filter((e) => e.name.includes("/api/"))
  .map((e) => ({ url: e.name.split("/api/")[1].slice(0, 80), ms: e.duration,
                 wait_ms: e.responseStart - e.requestStart }))
"""


def poll(page: Any, expr: str, timeout: float = 120.0) -> None:
    """Wait until ``expr`` is true in the page (``evaluate``: the page's CSP forbids the
    ``eval`` that ``wait_for_function`` polls with)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expr):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expr} still false after {timeout:.0f} s at {page.url}")
        time.sleep(0.02)


def browse(base: str, reps: int, expect: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    pages = {
        "collection": (
            "#/collection/default/wide",
            ".versions tbody a.version-link",
            min(50, expect["versions"]),
        ),
        "files": (
            "#/version/default/big-files/v0",
            ".files-table tbody td.path",
            min(100, expect["files"]),
        ),
        # drawn, or refused ("too many nodes to draw"): web_lineage_nodes tells which
        "lineage": (
            "#/lineage/default/hub/v0?direction=both&depth=3",
            '.canvas[data-ready="1"] > *',
            1,
        ),
    }
    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # one throw-away visit: Chromium's own first start (fonts, V8 caches) is not the page
            ctx = browser.new_context()
            ctx.new_page().goto(base, wait_until="load")
            ctx.close()
            for key, (frag, selector, count) in pages.items():
                reps_out = []
                for _ in range(reps):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = ctx.new_page()
                    page.add_init_script(
                        OBSERVER % json.dumps({"selector": selector, "count": count})
                    )
                    page.goto(base + frag, wait_until="commit")
                    poll(page, "window.__af && window.__af.paint !== null")
                    r: dict[str, Any] = page.evaluate("({...window.__af})")
                    r["api"] = page.evaluate(API_TIMES)
                    if key == "lineage":
                        poll(page, "document.querySelector('.canvas')?.dataset.ready === '1'")
                        r["nodes"] = page.evaluate(
                            "document.querySelectorAll('.canvas svg .nodes > a, "
                            ".canvas svg .nodes > g').length"
                        )
                        r["groups"] = page.evaluate(
                            "[...document.querySelectorAll('.canvas svg .nodes .group')]"
                            ".map((g) => Number(g.dataset.count || 0))"
                        )
                        r["summary"] = page.evaluate(
                            "document.querySelector('.lineage-page .summary')?.textContent || ''"
                        )
                        r["message"] = page.evaluate(
                            "document.querySelector('.canvas')?.textContent.slice(0, 200) || ''"
                        )
                        r["click"] = page.evaluate(CLICK, ".canvas svg .nodes .group")
                    reps_out.append(r)
                    ctx.close()
                out[key] = reps_out
        finally:
            browser.close()
    emit(pages=out)


# --------------------------------------------------------------------------------------------
# the group, called by bench/scale.py
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def ui_server(python: str, home: Path, db_url: str | None) -> Iterator[tuple[str, int]]:
    """``artiflow ui`` (uvicorn) on a free loopback port over ``home``; yields (URL, pid)."""
    import urllib.request

    port = free_port()
    env = {**os.environ, "ARTIFLOW_HOME": str(home)}
    for var in ("ARTIFLOW_DB_URL", "ARTIFLOW_STORE_URL", "ARTIFLOW_UI_TOKEN"):
        env.pop(var, None)
    if db_url:
        env["ARTIFLOW_DB_URL"] = db_url
    log = open(home / "ui.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            python,
            "-c",
            "from artiflow.cli import main; raise SystemExit(main())",
            "ui",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"artiflow ui exited {proc.returncode}: {(home / 'ui.log').read_text()[-500:]}"
                )
            try:
                with urllib.request.urlopen(f"{base}api/config", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("artiflow ui did not answer within 60 s")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _fmt(xs: list[float]) -> str:
    return "[" + ", ".join(f"{x:.0f}" for x in xs) + "] ms"


def group(b: Any, sc: Any) -> None:
    """The ``web`` group of bench/scale.py (``b`` its Scale, ``sc`` the module)."""
    a = b.args
    names = [c.name for c in sc.CASES if c.group == "web"]
    if not os.path.exists(CHROMIUM):
        b.skip(names, f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        return
    if getattr(a, "web_pg", False):
        with sc.pg_database(f"web_{os.getpid()}") as url:
            if url is None:
                b.skip(names, "no PostgreSQL at 127.0.0.1:5432 (--web-pg)")
                return
            _measure(b, sc, url)
    else:
        _measure(b, sc, None)


def _measure(b: Any, sc: Any, db_url: str | None) -> None:
    a = b.args
    home = b.work / "web-home"
    sc.rmtree(home)
    home.mkdir(parents=True)
    extra = ["--db-url", db_url] if db_url else []
    s = sc.drive(
        sc.MAIN_PY,
        HERE / "web_ops.py",
        "seed",
        *extra,
        "--home",
        home,
        a.web_versions,
        a.web_files,
        a.web_consumers,
        timeout=7200,
    )
    seeded = (
        f"{'PostgreSQL' if db_url else 'SQLite'}, generated by SQL in {s['seconds']:.0f} s: "
        f"{a.web_versions:,} versions, {a.web_files:,} files, {a.web_consumers:,} consumers"
    )
    print(f"# web: {seeded}", flush=True)
    expect = {"versions": a.web_versions, "files": a.web_files, "consumers": a.web_consumers}
    with ui_server(sc.MAIN_PY, home, db_url) as (base, pid):
        cpu0 = sc.base.proc_cpu(pid)
        r = sc.drive(
            sc.MAIN_PY,
            HERE / "web_ops.py",
            "browse",
            base,
            a.web_reps,
            json.dumps(expect),
            timeout=3600,
        )
        server_cpu = sc.base.proc_cpu(pid) - cpu0
    pages = r["pages"]
    load = f"{seeded.split(',')[0]}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"

    def first_page(case: str, key: str, what: str) -> None:
        reps = pages[key]
        paint = [x["paint"] for x in reps]
        dom = [x["dom"] for x in reps]
        api = [max((c["ms"] for c in x["api"]), default=0.0) for x in reps]
        slow = max(reps[-1]["api"], key=lambda c: c["ms"], default={"url": "-", "ms": 0})
        b.report(
            case,
            statistics.median(paint) / 1000,
            f"{what}: navigation start -> first page rendered, median of {len(reps)} fresh "
            f"contexts {_fmt(paint)} (rows in the DOM {_fmt(dom)}); slowest API call per visit "
            f"{_fmt(api)} (last visit: {slow['url']} {slow['ms']:.0f} ms); {load}",
        )

    first_page("web_collection_first_page", "collection", f"{a.web_versions:,} versions")
    first_page("web_files_first_page", "files", f"version of {a.web_files:,} files")
    lin = pages["lineage"]
    paint = [x["paint"] for x in lin]
    api = [max((c["ms"] for c in x["api"] if "lineage/" in c["url"]), default=0.0) for x in lin]
    b.report(
        "web_lineage_render",
        statistics.median(paint) / 1000,
        f"{a.web_consumers:,} direct consumers: navigation start -> graph drawn {_fmt(paint)}; "
        f"the lineage API call {_fmt(api)}; {lin[-1]['summary']}; {load}",
    )
    nodes = [x["nodes"] for x in lin]
    b.report(
        "web_lineage_nodes",
        float(max(nodes)),
        f"{a.web_consumers:,} consumers drawn as {nodes[-1]} nodes, groups of "
        f"{lin[-1]['groups']} (collapsed siblings)"
        + ("" if min(nodes) else "; NOT DRAWN: " + lin[-1]["message"]),
        status=None if min(nodes) else "FAIL",
    )
    clicks = [x["click"] for x in lin]
    if all(c is not None for c in clicks):
        frame = [c["frame_ms"] for c in clicks]
        b.report(
            "web_lineage_expand",
            statistics.median(frame) / 1000,
            f"click on a group -> next frame {_fmt(frame)} (handler "
            f"{_fmt([c['handler_ms'] for c in clicks])}); nodes {clicks[-1]['before']} -> "
            f"{clicks[-1]['after']}; UI server CPU over the whole visit set {server_cpu:.1f} s",
        )
    else:
        b.report("web_lineage_expand", None, "no collapsed group to click", status="FAIL")
    sc.rmtree(home)


def main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db-url")
    s.add_argument("--home", required=True)
    s.add_argument("versions", type=int)
    s.add_argument("files", type=int)
    s.add_argument("consumers", type=int)
    w = sub.add_parser("browse")
    w.add_argument("base")
    w.add_argument("reps", type=int)
    w.add_argument("expect")
    a = p.parse_args(argv)
    if a.cmd == "seed":
        os.makedirs(a.home, exist_ok=True)
        seed(a.db_url, a.home, a.versions, a.files, a.consumers)
    else:
        browse(a.base, a.reps, json.loads(a.expect))


if __name__ == "__main__":
    main(sys.argv[1:])
