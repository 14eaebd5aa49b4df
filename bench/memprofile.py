"""Peak memory of logging, re-logging, downloading and verifying a folder, in-process (issue 15 item 1).

    python bench/memprofile.py log    HOME DIR [--trace]   # Artifact + add_dir + Registry.log
    python bench/memprofile.py relog  HOME DIR [--trace]   # the same again (unchanged files)
    python bench/memprofile.py verify HOME DIR [--trace]   # get("m:latest").verify(DIR)
    python bench/memprofile.py download HOME DIR [--trace] # get("m:latest").download(DIR), DIR new

Prints wall and CPU time and the peak RSS (``ru_maxrss``; the registry is opened first, its RSS
is printed as the base). ``--trace`` runs under ``tracemalloc`` (several times slower) and
prints the allocation sites of the heap at its highest sampled point (a snapshot is taken
whenever the traced heap grows by 5%): the per-file structures and the lines that made them.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
import tracemalloc
from typing import Any


def main(argv: list[str]) -> None:
    mode, home, data = argv[:3]
    trace = "--trace" in argv
    from artiflow import Artifact, Registry

    reg = Registry(home=home)
    reg.collections()
    with open("/proc/self/statm") as fh:
        base = int(fh.read().split()[1]) * 4096 / 2**20
    best: list[Any] = [None, 0]
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            cur, _peak = tracemalloc.get_traced_memory()
            if cur > best[1] * 1.05 + 1e6:
                best[0], best[1] = tracemalloc.take_snapshot(), cur
            time.sleep(0.05)

    if trace:
        tracemalloc.start(8)
        threading.Thread(target=sampler, daemon=True).start()
    t0, c0 = time.perf_counter(), time.process_time()
    if mode in ("log", "relog"):
        art = Artifact("m", type="dataset")
        art.add_dir(data)
        v = reg.log(art)
    elif mode == "verify":
        v = reg.get("m:latest")
        v.verify(data)
    elif mode == "download":
        v = reg.get("m:latest")
        v.download(data)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{mode} {v.file_count} files: {dt:.2f} s, CPU {cpu:.2f} s, peak RSS {maxrss:.0f} MiB "
        f"(registry opened: {base:.0f} MiB)"
    )
    if trace and best[0] is not None:
        _cur, peak = tracemalloc.get_traced_memory()
        print(f"traced heap peak {peak / 2**20:.1f} MiB, snapshot at {best[1] / 2**20:.1f} MiB")
        snap = best[0].filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        for stat in snap.statistics("lineno")[:25]:
            print(f"{stat.size / 2**20:8.1f} MiB {stat.count:9d}  {stat.traceback[0]}")
        print("--- by traceback (top 8)")
        for stat in snap.statistics("traceback")[:8]:
            print(f"{stat.size / 2**20:8.1f} MiB {stat.count:9d}")
            for frame in stat.traceback.format()[-12:]:
                print("      ", frame.strip())


if __name__ == "__main__":
    main(sys.argv[1:])
