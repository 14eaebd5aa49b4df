"""Drivers of bench/scale.py (main venv). Each prints one line ``BENCH_RESULT {json}``.

Usage:
    scale_ops.py verify   --home H REF ROOT                 # ArtifactVersion.verify(ROOT)
    scale_ops.py b3-loop  DIR                               # BLAKE3 of every file, one loop
    scale_ops.py catalog  [--db-url U] --home H C V ITERS   # latencies on a seeded catalog
    scale_ops.py writer   [--db-url U] --home H NAME COUNT GO  # one contending writer
    scale_ops.py s3-get-loop ENDPOINT URL DST               # sequential s3fs.get_file of all keys
    scale_ops.py s3-get-big  ENDPOINT URL DST               # one s3fs.get of a big object

Timings cover the operation only (imports and opening the registry come first).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from typing import Any


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw, default=str), flush=True)


def cpu_now() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def open_registry(home: str, db_url: str | None) -> Any:
    from artiflow import Registry

    kw: dict[str, Any] = {"home": home}
    if db_url:
        kw["db_url"] = db_url
    reg = Registry(**kw)
    reg.collections()
    return reg


def pct(lat: list[float], q: float) -> float:
    s = sorted(lat)
    return s[min(len(s) - 1, int(q * len(s)))]


def summary(lat: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(lat) * 1000,
        "p90_ms": pct(lat, 0.90) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "max_ms": max(lat) * 1000,
        "n": len(lat),
    }


# ---- files -----------------------------------------------------------------------------------
def cmd_verify(home: str, ref: str, root: str) -> None:
    reg = open_registry(home, None)
    v = reg.get(ref)
    c0, t0 = cpu_now(), time.perf_counter()
    v.verify(root)
    emit(seconds=time.perf_counter() - t0, cpu_s=cpu_now() - c0, files=v.file_count)


def walk_files(top: str) -> list[str]:
    out: list[str] = []
    stack = [top]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    out.append(e.path)
    return out


def cmd_b3_loop(top: str) -> None:
    """The floor of any verify: list the folder and BLAKE3 every file, one loop, one thread."""
    import blake3

    c0, t0 = cpu_now(), time.perf_counter()
    n = 0
    for p in walk_files(top):
        with open(p, "rb") as fh:
            blake3.blake3(fh.read()).hexdigest()
        n += 1
    emit(seconds=time.perf_counter() - t0, cpu_s=cpu_now() - c0, files=n)


# ---- catalog ---------------------------------------------------------------------------------
def cmd_catalog(home: str, db_url: str | None, n_coll: int, n_ver: int, iters: int) -> None:
    from artiflow import Artifact

    reg = open_registry(home, db_url)
    rnd = random.Random(7)
    project = reg.default_project

    def coll() -> str:
        return f"c{rnd.randint(1, n_coll)}"

    out: dict[str, Any] = {}

    def measure(key: str, fn: Any, n: int, warm: int = 10) -> None:
        for _ in range(warm):
            fn()
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t0)
        out[key] = summary(lat)

    n_alias = min(10, n_ver)
    measure("resolve", lambda: reg.get(f"{coll()}:a{rnd.randrange(n_alias)}"), iters)
    pages = max(1, n_ver // 50)
    measure(
        "page",
        lambda: reg.catalog.versions(
            project, coll(), limit=50, offset=50 * rnd.randrange(pages), newest_first=True
        ),
        iters,
    )
    measure(
        "alias_move",
        lambda: reg.alias(f"{coll()}:v{rnd.randrange(n_ver)}", f"a{rnd.randrange(n_alias)}"),
        iters,
    )
    # log 10-file versions: distinct content prepared before the clock
    tmp = tempfile.mkdtemp(dir=home)
    n_log = max(5, iters // 10)
    folders = []
    for i in range(n_log + 3):
        d = os.path.join(tmp, f"v{i}")
        os.makedirs(d)
        for k in range(10):
            with open(os.path.join(d, f"f{k}.bin"), "wb") as fh:
                fh.write(os.urandom(1024))
        folders.append(d)
    it = iter(folders)
    target = coll()

    def log10() -> None:
        art = Artifact(target, type="dataset")
        art.add_dir(next(it))
        reg.log(art)

    measure("log10", log10, n_log, warm=3)
    depth = min(50, n_ver - 1)
    last = {"nodes": 0}

    def lineage() -> None:
        g = reg.lineage(f"{coll()}:v{n_ver - 1}", direction="upstream", depth=depth)
        last["nodes"] = len(g.nodes)

    measure("lineage", lineage, max(5, iters // 20), warm=2)
    out["lineage_nodes"] = last["nodes"]
    out["lineage_depth"] = depth
    emit(seconds=0.0, **out)


# ---- contention ------------------------------------------------------------------------------
def cmd_writer(home: str, db_url: str | None, name: str, count: int, go: str) -> None:
    from artiflow import Artifact

    reg = open_registry(home, db_url)
    with contextlib.suppress(LookupError):
        reg.get(f"{name}:latest")  # warm the connection (the harness made the collection)
    tmp = tempfile.mkdtemp(dir=home)
    paths = []
    for i in range(count):
        p = os.path.join(tmp, f"{os.getpid()}-{i}.bin")
        with open(p, "wb") as fh:
            fh.write(os.urandom(256))
        paths.append(p)
    with open(go + f".ready-{os.getpid()}", "w"):
        pass
    while not os.path.exists(go):
        time.sleep(0.005)
    t_start = time.time()
    c0 = cpu_now()
    ok, errors, lat = 0, [], []
    for p in paths:
        t0 = time.perf_counter()
        try:
            art = Artifact(name, type="dataset")
            art.add_file(p, name="part.bin")
            reg.log(art)
            ok += 1
        except Exception as exc:  # counted and reported, never hidden
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
        lat.append(time.perf_counter() - t0)
    emit(
        seconds=time.time() - t_start,
        cpu_s=cpu_now() - c0,
        t_start=t_start,
        t_end=time.time(),
        commits=ok,
        errors=errors,
        **{f"lat_{k}": v for k, v in summary(lat).items()},
    )


# ---- S3 baselines ----------------------------------------------------------------------------
def _s3(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key="testing", secret="testing", client_kwargs={"endpoint_url": endpoint}
    )


def cmd_s3_get_loop(endpoint: str, url: str, dst: str) -> None:
    fs = _s3(endpoint)
    keys = fs.find(url)  # the listing is outside the timing (artiflow knows its keys)
    os.makedirs(dst, exist_ok=True)
    c0, t0 = cpu_now(), time.perf_counter()
    for i, k in enumerate(keys):
        fs.get_file(k, os.path.join(dst, f"{i:06d}"))
    emit(seconds=time.perf_counter() - t0, cpu_s=cpu_now() - c0, files=len(keys))


def cmd_s3_get_big(endpoint: str, url: str, dst: str) -> None:
    fs = _s3(endpoint)
    fs.ls(url.split("/", 3)[2])
    t0 = time.perf_counter()
    fs.get(url, dst)
    emit(seconds=time.perf_counter() - t0, size=os.path.getsize(dst))


def main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("cmd")
    p.add_argument("--home")
    p.add_argument("--db-url")
    p.add_argument("rest", nargs="*")
    a = p.parse_intermixed_args(argv)
    r = a.rest
    if a.cmd == "verify":
        cmd_verify(a.home, r[0], r[1])
    elif a.cmd == "b3-loop":
        cmd_b3_loop(r[0])
    elif a.cmd == "catalog":
        cmd_catalog(a.home, a.db_url, int(r[0]), int(r[1]), int(r[2]))
    elif a.cmd == "writer":
        cmd_writer(a.home, a.db_url, r[0], int(r[1]), r[2])
    elif a.cmd == "s3-get-loop":
        cmd_s3_get_loop(*r)
    elif a.cmd == "s3-get-big":
        cmd_s3_get_big(*r)
    else:
        raise SystemExit(f"unknown command {a.cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
