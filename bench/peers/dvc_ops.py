"""DVC driver for bench/run.py, run with bench/.peers/bin/python.

Usage:
    dvc_ops.py init REPO
    dvc_ops.py add REPO TARGET      # times `dvc add TARGET` (in-process, as the CLI would)

Prints one line ``BENCH_RESULT {json}`` with ``seconds`` (the operation only, imports and
repo opening excluded, as for artiflow) and ``maxrss_mib`` (peak RSS of this process).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw), flush=True)


def cpu_now() -> float:
    """User + system CPU seconds of this process (all threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str]) -> None:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    from dvc.repo import Repo

    cmd, repo_dir = argv[0], argv[1]
    if cmd == "init":
        Repo.init(repo_dir, no_scm=True)
        emit(seconds=0.0)
        return
    if cmd == "add":
        target = argv[2]
        repo = Repo(repo_dir)
        c0 = cpu_now()
        t0 = time.perf_counter()
        repo.add(target)  # takes the repo lock, like the CLI
        dt = time.perf_counter() - t0
        cpu = cpu_now() - c0
        repo.close()
        emit(seconds=dt, cpu_s=cpu)
        return
    raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
