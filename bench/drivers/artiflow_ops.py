"""artiflow driver for bench/run.py, run with the main venv's python.

Usage (each prints one line ``BENCH_RESULT {json}`` with ``seconds`` and ``maxrss_mib``):
    artiflow_ops.py log-file  --home H [--store-url U] NAME FILE      # Artifact + add_file + log
    artiflow_ops.py log-dir   --home H [--store-url U] NAME DIR       # Artifact + add_dir + log
    artiflow_ops.py download  --home H REF DST                        # get + download(root=DST)
    artiflow_ops.py resolve   --home H REF ITERS                      # p50 of Registry.get(REF)
    artiflow_ops.py lineage   --db-url U REF DEPTH ITERS              # p50 of upstream lineage
    artiflow_ops.py seed-versions --home H NAME N ALIAS               # N versions, ALIAS mid-way

Timings cover the operation only: imports and opening the registry (schema creation) happen
before the clock starts, exactly as the peer drivers do for DVC and MLflow.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from typing import Any


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw), flush=True)


def cpu_now() -> float:
    """User + system CPU seconds of this process (all threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def rss_now_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_registry(args: argparse.Namespace) -> Any:
    from artiflow import Registry

    kw: dict[str, Any] = {}
    if args.home:
        kw["home"] = args.home
    if args.db_url:
        kw["db_url"] = args.db_url
    if args.store_url:
        kw["store_url"] = args.store_url
        endpoint = os.environ.get("BENCH_S3_ENDPOINT")
        if endpoint and args.store_url.startswith("s3://"):
            kw["storage_options"] = {
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"endpoint_url": endpoint},
            }
    try:
        reg = Registry(**kw)
    except TypeError:  # a core without storage_options: the AWS_* environment still applies
        kw.pop("storage_options", None)
        reg = Registry(**kw)
    reg.collections()  # open the database (creates the schema) before any clock starts
    if args.store_url:
        # a remote store imports s3fs/aiobotocore (~0.7 s, 1.9 s on a loaded machine) when it
        # is first used: like the s3fs baselines, do it before the clock starts
        _ = reg.store
    return reg


def cmd_log(args: argparse.Namespace, kind: str) -> None:
    from artiflow import Artifact

    reg = open_registry(args)
    before = [v.index for v in reg.versions(args.name)] if _exists(reg, args.name) else []
    rss0 = rss_now_mib()
    c0 = cpu_now()
    t0 = time.perf_counter()
    art = Artifact(args.name, type="dataset")
    if kind == "file":
        art.add_file(args.path)
    else:
        art.add_dir(args.path)
    v = reg.log(art)
    dt = time.perf_counter() - t0
    cpu = cpu_now() - c0
    emit(
        seconds=dt,
        cpu_s=cpu,
        ref=v.ref,
        digest=v.digest,
        new_version=v.index not in before,
        files=len(v.manifest.entries),
        rss_before_mib=rss0,
    )


def _exists(reg: Any, name: str) -> bool:
    try:
        return bool(reg.versions(name))
    except LookupError:
        return False


def cmd_download(args: argparse.Namespace) -> None:
    reg = open_registry(args)
    rss0 = rss_now_mib()
    c0 = cpu_now()
    t0 = time.perf_counter()
    v = reg.get(args.ref)
    path = v.download(root=args.dst)
    dt = time.perf_counter() - t0
    emit(seconds=dt, cpu_s=cpu_now() - c0, path=str(path), rss_before_mib=rss0)


def cmd_resolve(args: argparse.Namespace) -> None:
    reg = open_registry(args)
    for _ in range(20):
        v = reg.get(args.ref)
    lat = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        v = reg.get(args.ref)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    emit(
        seconds=statistics.median(lat),
        p50=statistics.median(lat),
        p90=lat[int(0.9 * len(lat))],
        version=v.version,
    )


def cmd_lineage(args: argparse.Namespace) -> None:
    reg = open_registry(args)
    g = reg.lineage(args.ref, direction="upstream", depth=args.depth)  # warm-up
    lat = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        g = reg.lineage(args.ref, direction="upstream", depth=args.depth)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    emit(
        seconds=statistics.median(lat),
        p50=statistics.median(lat),
        p90=lat[int(0.9 * len(lat))],
        nodes=len(g.nodes),
        edges=len(g.edges),
    )


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("cmd")
    p.add_argument("--home")
    p.add_argument("--db-url")
    p.add_argument("--store-url")
    p.add_argument("rest", nargs="*")
    args = p.parse_intermixed_args(argv)
    r = args.rest
    if args.cmd in ("log-file", "log-dir"):
        args.name, args.path = r
        cmd_log(args, "file" if args.cmd == "log-file" else "dir")
    elif args.cmd == "download":
        args.ref, args.dst = r
        cmd_download(args)
    elif args.cmd == "resolve":
        args.ref, args.iters = r[0], int(r[1])
        cmd_resolve(args)
    elif args.cmd == "lineage":
        args.ref, args.depth, args.iters = r[0], int(r[1]), int(r[2])
        cmd_lineage(args)
    else:
        raise SystemExit(f"unknown command {args.cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
