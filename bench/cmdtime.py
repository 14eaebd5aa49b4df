"""Time whole commands side by side, interleaved: wall time and CPU (user + system, children).

    python bench/cmdtime.py 20 'main=PYTHONPATH=/tmp/main artiflow ls' 'branch=artiflow ls'

Each repetition runs every command once, in the order given (so a busy moment hits all of
them alike); prints the best and the median of each. What ``docs/benchmarks.md`` used to compare
``artiflow ls`` of two checkouts (hyperfine is not installed on the bench machine).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time


def main(argv: list[str]) -> None:
    n = int(argv[0])
    cmds = [a.split("=", 1) for a in argv[1:]]
    res: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, _ in cmds}
    for _ in range(n):
        for label, cmd in cmds:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, check=True)
            wall = time.perf_counter() - t
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
            res[label][0].append(wall)
            res[label][1].append(cpu)
    for label, (w, c) in res.items():
        print(
            f"{label:12s} wall min {min(w):.3f} med {statistics.median(w):.3f}  "
            f"cpu min {min(c):.3f} med {statistics.median(c):.3f}  (n={n})"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
