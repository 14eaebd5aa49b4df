"""artiflow benchmarks against the peers (DVC, MLflow) and the hardware limits (issue 7).

    .venv/bin/python bench/run.py                 # everything (what `make bench` runs)
    .venv/bin/python bench/run.py --quick         # small sizes, a smoke test of the harness
    .venv/bin/python bench/run.py --only resolve  # one group or one case (repeatable)
    .venv/bin/python bench/run.py --list          # the cases and their targets

Every case prints one line ``RATIO <case> <measured> <target> PASS|FAIL`` (``SKIP``/``ERROR``
with the reason when it could not be measured), then an indented detail line. Both sides of a
comparison are measured in the same run, each in its own subprocess (artiflow and the baselines
with the main venv's python, DVC and MLflow with ``bench/.peers/bin/python``), with the page cache
warm and ``sync`` before each timed step. Each subprocess reports the time of the operation alone
(imports and opening the store are excluded on both sides) and its peak RSS (``ru_maxrss``).

Results go to ``bench/results.md`` (full runs) or ``bench/.work/results.md`` (``--quick`` or
``--only``), with the date and the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / ".peers"
DRIVERS = BENCH / "drivers"
PEER_DRIVERS = BENCH / "peers"
MAIN_PY = sys.executable
MiB = 1024 * 1024
GiB = 1024 * MiB
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "artiflow_bench"


# --------------------------------------------------------------------------------------------
# cases and results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    group: str
    target: str  # "<=1.3", ">=7x", "<=0.3s", "<=1ms", "<=200MiB"
    what: str


CASES = [
    Case("log_big_vs_b3cp", "big", "<=1.3", "log one big file / (BLAKE3 hash + cp)"),
    Case("log_big_vs_dvc", "big", ">=7x", "dvc add / artiflow log, one big file"),
    Case("mem_log_big", "big", "<=200MiB", "peak RSS logging the big file"),
    Case("mem_download_big", "big", "<=200MiB", "peak RSS downloading the big file"),
    Case("log_small_vs_dvc", "small", ">=4x", "dvc add / artiflow log, 10k x 10 KiB"),
    Case("log_small_vs_mlflow", "small", ">=1x", "mlflow.log_artifacts / artiflow log, 10k files"),
    Case("mem_log_small", "small", "<=300MiB", "peak RSS logging 10k files"),
    Case("relog_small_abs", "small", "<=0.3s", "re-log of the unchanged 10k files"),
    Case("relog_small_vs_dvc", "small", ">=4x", "dvc add / artiflow log, unchanged 10k files"),
    Case("download_small_vs_cp", "small", "<=2", "artiflow download / cp -r, 10k files"),
    Case("download_small_vs_mlflow", "small", ">=10x", "mlflow download / artiflow, 10k files"),
    Case("resolve_p50", "resolve", "<=1ms", "p50 of Registry.get('name:alias'), SQLite"),
    Case("resolve_vs_mlflow", "resolve", ">=10x", "MLflow get_model_version_by_alias / artiflow"),
    Case("lineage_depth50_pg", "lineage", "<=100ms", "upstream lineage depth 50, PostgreSQL"),
    Case("s3_small_vs_put_loop", "s3", ">=3x", "sequential s3fs.put_file loop / artiflow log"),
    Case("s3_big_vs_put", "s3", "<=1.5", "artiflow log / s3fs.put, one big file"),
    Case("mem_s3_big", "s3", "<=200MiB", "peak RSS uploading the big file to S3"),
    Case("cli_ls", "cli", "<=0.15s", "`artiflow ls`, whole process, small registry"),
    Case("cli_log_small_vs_dvc", "cli", ">=4x", "`dvc add` / `artiflow log`, whole processes"),
    Case("cli_log_small_vs_cp", "cli", "<=2", "`artiflow log` / `cp -r`, whole processes"),
    Case("airflow_overhead", "orchestrators", "<=20ms", "artifact-aware Airflow task - plain"),
    Case("prefect_overhead", "orchestrators", "<=10ms", "artifact-aware Prefect task - plain"),
]
BY_NAME = {c.name: c for c in CASES}
GROUPS = list(dict.fromkeys(c.group for c in CASES))


@dataclass
class Result:
    case: Case
    value: float | None = None
    status: str = "SKIP"
    detail: str = ""

    def line(self) -> str:
        value = fmt_value(self.case.target, self.value)
        return f"RATIO {self.case.name} {value} {self.case.target} {self.status}"


def fmt_value(target: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    unit = target.lstrip("<>=0123456789.")
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f}s"
    if unit == "ms":
        return f"{value:.3f}ms"
    if unit == "MiB":
        return f"{value:.0f}MiB"
    return f"{value:.2f}"


def judge(target: str, value: float) -> bool:
    op, num = target[:2], float(target[2:].rstrip("xsmMiB"))
    return value <= num if op == "<=" else value >= num


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    results: list[Result] = field(default_factory=list)
    peers: dict[str, str | None] | None = None
    peer_notes: dict[str, str] = field(default_factory=dict)

    # sizes ---------------------------------------------------------------------------------
    @property
    def big_size(self) -> int:
        return self.args.big_mib * MiB

    # selection -----------------------------------------------------------------------------
    def wanted(self, name: str) -> bool:
        if not self.args.only:
            return True
        case = BY_NAME[name]
        return any(o in (case.name, case.group) for o in self.args.only)

    def group_wanted(self, group: str) -> bool:
        return any(self.wanted(c.name) for c in CASES if c.group == group)

    # reporting -----------------------------------------------------------------------------
    def report(
        self, name: str, value: float | None, detail: str, status: str | None = None
    ) -> None:
        case = BY_NAME[name]
        if not self.wanted(name):
            return
        if status is None:
            status = "PASS" if value is not None and judge(case.target, value) else "FAIL"
        r = Result(case, value, status, detail)
        self.results.append(r)
        print(r.line(), flush=True)
        print(f"    {case.what}: {detail}", flush=True)

    def skip(self, names: list[str], reason: str, status: str = "SKIP") -> None:
        for n in names:
            if self.wanted(n) and not any(r.case.name == n for r in self.results):
                self.report(n, None, reason, status)

    # peers ---------------------------------------------------------------------------------
    def peer(self, name: str) -> str | None:
        """Python of the peers venv when ``name`` (dvc, mlflow) is importable there."""
        if self.peers is None:
            self.peers = ensure_peers(self.peer_notes, offline=self.args.no_peer_install)
        return self.peers.get(name)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
class DriverError(RuntimeError):
    pass


def drive(
    python: str,
    script: Path,
    *args: object,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Run one driver in a subprocess; return its ``BENCH_RESULT`` JSON."""
    cmd = [python, str(script), *map(str, args)]
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH_RESULT ") and proc.returncode == 0:
            return json.loads(line[len("BENCH_RESULT ") :])  # type: ignore[no-any-return]
    tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-6:]
    raise DriverError(
        f"{script.name} {' '.join(map(str, args[:1]))} exited {proc.returncode}: "
        + " | ".join(tail)
    )


def artiflow(*args: object, env: dict[str, str] | None = None) -> dict[str, Any]:
    return drive(MAIN_PY, DRIVERS / "artiflow_ops.py", *args, env=env)


def sync() -> None:
    os.sync()
    time.sleep(0.2)


def warm(path: Path) -> None:
    """Read a file or folder so that it is in the page cache."""
    if path.is_file():
        with open(path, "rb", buffering=0) as fh:
            while fh.read(16 * MiB):
                pass
        return
    for root, _dirs, files in os.walk(path):
        for n in files:
            with open(os.path.join(root, n), "rb") as fh:
                fh.read()


# Deleting many files and then creating many files is slow on ext4 without a journal (this
# machine's root): for inodes freed in the last 5 s (35 s while their inode table block is
# dirty) ext4's allocator checks `recently_deleted()` on every create and skips them: 10,000
# creates took 1.3 s of kernel time right after deleting 10,000 files vs 0.11 s otherwise (perf:
# find_get_block_common under recently_deleted). Both sides of a case pay it, but by chance
# (dtime is in whole seconds), so it swamped the small-file ratios. While `deferred_deletes()`
# is on, rmtree renames into a trash folder, emptied when the group ends.
_TRASH: list[Path] = []
_DEFER = False
_TRASH_COUNT = itertools.count()


@contextlib.contextmanager
def deferred_deletes(work: Path) -> Iterator[None]:
    global _DEFER
    trash = work / ".trash"
    trash.mkdir(exist_ok=True)
    _DEFER = True
    _TRASH.append(trash)
    try:
        yield
    finally:
        _DEFER = False
        _TRASH.pop()
        _rmtree_now(trash)


def ready(path: Path) -> None:
    """Just before a timed operation: what it reads is in the page cache, dirty data is
    written out. Needed on this machine: DAMON (kdamond, `pageout` scheme) evicts page-cache
    pages not accessed for about 60 s, so a store logged a minute earlier is read from disk."""
    warm(path)
    sync()


def rmtree(path: Path) -> None:
    if _DEFER and _TRASH and path.exists():
        try:
            path.rename(_TRASH[-1] / f"{next(_TRASH_COUNT)}-{path.name}")
            return
        except OSError:  # another file system: delete now
            pass
    _rmtree_now(path)


def _rmtree_now(path: Path) -> None:
    if path.exists():
        for root, dirs, _files in os.walk(path):  # blobs are read-only
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(path, ignore_errors=True)


def timed_cmd(cmd: list[str], cpu: list[float] | None = None) -> float:
    """Wall time of a command; its CPU time (user + system) is appended to ``cpu``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return dt


def cpu_note(ours: list[float], theirs: list[float], who: str, inverse: bool = False) -> str:
    """The same comparison in CPU seconds (user + system), less sensitive to a busy machine."""
    if not ours or not theirs:
        return ""
    a, t = best(ours), best(theirs)
    ratio = (t / a if inverse else a / t) if a and t else float("nan")
    return f"; CPU time artiflow {a:.3f} s vs {who} {t:.3f} s (ratio {ratio:.2f})"


def best(xs: list[float]) -> float:
    """The estimate of one side's cost: the fastest of its repetitions. On a shared machine
    other work only ever adds time, so the minimum is the least disturbed measurement (as
    ``timeit`` advises); every repetition is listed in the detail line."""
    return min(xs)


def fmt_s(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.3f} s"
    return f"{best(xs):.3f} s (best of {len(xs)}: {', '.join(f'{x:.3f}' for x in xs)})"


def pseudo_random(seed: int, size: int) -> bytes:
    import blake3

    return blake3.blake3(seed.to_bytes(8, "little")).digest(length=size)


def make_big(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    import blake3

    xof = blake3.blake3(b"artiflow-bench-big")
    chunk = 16 * MiB
    with open(path, "wb") as fh:
        for off in range(0, size, chunk):
            fh.write(xof.digest(length=min(chunk, size - off), seek=off))


def make_small(path: Path, count: int, size: int = 10 * 1024) -> None:
    """``count`` files of ``size`` distinct bytes in folders of 100; a marker beside the folder."""
    rmtree(path)
    for i in range(count):
        d = path / f"part-{i // 100:03d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"rec-{i:05d}.bin").write_bytes(pseudo_random(i, size))
    (path.parent / f".{path.name}.complete").write_text(f"{count} {size}")


def small_ready(path: Path, count: int) -> bool:
    m = path.parent / f".{path.name}.complete"
    return path.exists() and m.exists() and m.read_text() == f"{count} {10 * 1024}"


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# the peers venv
# --------------------------------------------------------------------------------------------
PEER_IMPORTS = {"dvc": "import dvc.repo", "mlflow": "import mlflow"}


def ensure_peers(notes: dict[str, str], offline: bool = False) -> dict[str, str | None]:
    """Create/reuse ``bench/.peers`` with dvc and mlflow; None for a peer that cannot be had."""
    py = PEERS / "bin" / "python"
    found: dict[str, str | None] = {}

    def importable(mod: str) -> bool:
        if not py.exists():
            return False
        return (
            subprocess.run([str(py), "-c", PEER_IMPORTS[mod]], capture_output=True).returncode == 0
        )

    missing = [m for m in PEER_IMPORTS if not importable(m)]
    if missing and not offline:
        print(
            f"# installing peers into {PEERS.relative_to(REPO)}: {', '.join(missing)}", flush=True
        )
        if not py.exists():
            base = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
            subprocess.run([base, "-m", "venv", str(PEERS)], check=False)
        if py.exists():
            pins = {
                line.split("==")[0].strip(): line.strip()
                for line in (PEER_DRIVERS / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")
            }
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], capture_output=True
            )
            subprocess.run([str(py), "-m", "pip", "install", "-q", "blake3"], capture_output=True)
            for m in missing:
                for spec in (pins.get(m, m), m):  # the pin, then the newest release
                    p = subprocess.run(
                        [str(py), "-m", "pip", "install", "-q", spec],
                        capture_output=True,
                        text=True,
                    )
                    if p.returncode == 0 and importable(m):
                        break
                    notes[m] = (p.stderr.strip().splitlines() or ["import failed"])[-1]
    for m in PEER_IMPORTS:
        ok = importable(m)
        found[m] = str(py) if ok else None
        if ok:
            ver = subprocess.run(
                [str(py), "-c", f"import importlib.metadata as md; print(md.version('{m}'))"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            notes[m] = ver
    return found


def peer_env(work: Path) -> dict[str, str]:
    return {
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(work / "dvc-site"),
        "MLFLOW_TRACKING_INSECURE_TLS": "false",
        "GIT_PYTHON_REFRESH": "quiet",
        "HOME": str(work / "home"),
    }


# --------------------------------------------------------------------------------------------
# group: one big file
# --------------------------------------------------------------------------------------------
@dataclass
class Series:
    """Repeated measurements of one side: wall seconds, CPU seconds, peak RSS."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    def add(self, r: dict[str, Any]) -> dict[str, Any]:
        self.wall.append(r["seconds"])
        if "cpu_s" in r:
            self.cpu.append(r["cpu_s"])
        if "maxrss_mib" in r:
            self.rss.append(r["maxrss_mib"])
        return r

    @property
    def best(self) -> float:
        return best(self.wall)


def group_big(b: Bench) -> None:
    names = [c.name for c in CASES if c.group == "big"]
    size = b.big_size
    need = 5 * size + GiB
    if free_bytes(b.work) < need:
        b.skip(
            names,
            f"needs {need / GiB:.1f} GiB free in {b.work}, has {free_bytes(b.work) / GiB:.1f} GiB",
        )
        return
    data = b.work / "data" / "big.bin"
    make_big(data, size)
    warm(data)
    sync()
    label = f"{size / GiB:g} GiB" if size >= GiB else f"{size // MiB} MiB"
    reps = b.args.reps
    dst = b.work / "b3cp.bin"

    def baseline() -> dict[str, Any]:
        dst.unlink(missing_ok=True)
        sync()
        r = drive(MAIN_PY, DRIVERS / "baseline_ops.py", "hash_cp", data, dst)
        dst.unlink(missing_ok=True)
        return r

    af, base = Series(), Series()
    parts = []
    baseline()  # warm-up, discarded: the first big write of a run is always the slowest
    for i in range(reps):
        home = b.work / f"af-big-{i}"
        rmtree(home)
        sync()
        af.add(artiflow("log-file", "--home", home, "big", data))
        if b.wanted("log_big_vs_b3cp"):
            # the baseline twice per repetition: the kernel time of writing 2 GiB of new page
            # cache varies by 3x here (a cp took 0.56 s and 2.0 s), so give the cheap side
            # more draws, as cp -r gets in the small-file group
            for _ in range(2):
                r = base.add(baseline())
                parts.append((r["hash_s"], r["cp_s"]))
        if i < reps - 1:
            rmtree(home)
    if base.wall:
        hs = best([p[0] for p in parts])
        cs = best([p[1] for p in parts])
        b.report(
            "log_big_vs_b3cp",
            af.best / base.best,
            f"{label}: artiflow {fmt_s(af.wall)} vs b3+cp {fmt_s(base.wall)} "
            f"(hash {hs:.3f} s + cp {cs:.3f} s); artiflow {size / af.best / MiB:.0f} MiB/s"
            + cpu_note(af.cpu, base.cpu, "b3+cp"),
        )
    b.report(
        "mem_log_big",
        max(af.rss),
        f"peak RSS of the logging process {max(af.rss):.0f} MiB ({label} file)",
    )

    # download of the big version (the last home is kept)
    home = b.work / f"af-big-{reps - 1}"
    if b.wanted("mem_download_big"):
        dl = Series()
        for _ in range(max(1, reps - 1)):
            out = b.work / "dl-big"
            rmtree(out)
            sync()
            dl.add(artiflow("download", "--home", home, "big:latest", out))
            rmtree(out)
        b.report(
            "mem_download_big",
            max(dl.rss),
            f"peak RSS of the downloading process {max(dl.rss):.0f} MiB; "
            f"download took {fmt_s(dl.wall)} ({size / dl.best / MiB:.0f} MiB/s)",
        )
    rmtree(home)

    if b.wanted("log_big_vs_dvc"):
        py = b.peer("dvc")
        if py is None:
            b.skip(["log_big_vs_dvc"], f"dvc could not be installed: {b.peer_notes.get('dvc')}")
        else:
            dv = Series()
            for i in range(b.args.peer_reps):
                repo = b.work / f"dvc-big-{i}"
                rmtree(repo)
                env = peer_env(b.work)
                drive(py, PEER_DRIVERS / "dvc_ops.py", "init", repo, env=env)
                os.link(data, repo / "big.bin")
                sync()
                dv.add(
                    drive(py, PEER_DRIVERS / "dvc_ops.py", "add", repo, repo / "big.bin", env=env)
                )
                rmtree(repo)
            b.report(
                "log_big_vs_dvc",
                dv.best / af.best,
                f"{label}: dvc add {fmt_s(dv.wall)} vs artiflow {af.best:.3f} s "
                f"(dvc {b.peer_notes.get('dvc')})" + cpu_note(af.cpu, dv.cpu, "dvc", inverse=True),
            )
    if not b.args.keep:
        data.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# group: 10,000 small files
# --------------------------------------------------------------------------------------------
def group_small(b: Bench) -> None:
    n = b.args.files
    data = b.work / "data" / f"small-{n}"
    if not small_ready(data, n):
        make_small(data, n)
    warm(data)
    sync()
    reps = b.args.reps
    label = f"{n:,} x 10 KiB"

    af, relog = Series(), Series()
    for i in range(reps):
        home = b.work / f"af-small-{i}"
        rmtree(home)
        ready(data)
        af.add(artiflow("log-dir", "--home", home, "small", data))
        ready(data)
        r2 = relog.add(artiflow("log-dir", "--home", home, "small", data))
        if r2["new_version"]:
            raise DriverError("re-logging unchanged files created a new version")
        if i < reps - 1:
            rmtree(home)
    home = b.work / f"af-small-{reps - 1}"
    b.report("mem_log_small", max(af.rss), f"peak RSS logging {label}: {max(af.rss):.0f} MiB")
    b.report(
        "relog_small_abs",
        relog.best,
        f"{label} unchanged, new process: {fmt_s(relog.wall)} (first log {fmt_s(af.wall)}); "
        f"CPU {best(relog.cpu):.3f} s",
    )

    # download vs cp -r
    dl, hard = Series(), Series()
    cp: list[float] = []
    if b.wanted("download_small_vs_cp") or b.wanted("download_small_vs_mlflow"):
        cp_cpu: list[float] = []
        for _ in range(reps):
            out = b.work / "dl-small"
            rmtree(out)
            ready(home)
            dl.add(artiflow("download", "--home", home, "small:latest", out))
            rmtree(out)
            for _ in range(2):  # the cheap baseline twice: its best is the most fragile number
                ready(data)
                cp.append(timed_cmd(["cp", "-r", str(data), str(out)], cp_cpu))
                rmtree(out)
        # for reference: the same download with hard links from the store (no data copied)
        ready(home)
        hard.add(
            artiflow(
                "download",
                "--home",
                home,
                "small:latest",
                out,
                env={"ARTIFLOW_LINK_TYPE": "hardlink"},
            )
        )
        rmtree(out)
        b.report(
            "download_small_vs_cp",
            dl.best / best(cp),
            f"{label}: artiflow download {fmt_s(dl.wall)} vs cp -r {fmt_s(cp)}"
            + cpu_note(dl.cpu, cp_cpu, "cp -r")
            + f"; with ARTIFLOW_LINK_TYPE=hardlink {hard.best:.3f} s",
        )

    # DVC
    if b.wanted("log_small_vs_dvc") or b.wanted("relog_small_vs_dvc"):
        py = b.peer("dvc")
        if py is None:
            b.skip(
                ["log_small_vs_dvc", "relog_small_vs_dvc"],
                f"dvc could not be installed: {b.peer_notes.get('dvc')}",
            )
        else:
            dv, dv_re = Series(), Series()
            for i in range(b.args.peer_reps):
                repo = b.work / f"dvc-small-{i}"
                rmtree(repo)
                env = peer_env(b.work)
                rmtree(b.work / "dvc-site")
                drive(py, PEER_DRIVERS / "dvc_ops.py", "init", repo, env=env)
                tgt = repo / "small"
                for root, _dirs, files in os.walk(data):  # hard links: same inodes, warm cache
                    rel = Path(root).relative_to(data)
                    (tgt / rel).mkdir(parents=True, exist_ok=True)
                    for f in files:
                        os.link(os.path.join(root, f), tgt / rel / f)
                ready(tgt)
                dv.add(drive(py, PEER_DRIVERS / "dvc_ops.py", "add", repo, tgt, env=env))
                ready(repo)
                dv_re.add(drive(py, PEER_DRIVERS / "dvc_ops.py", "add", repo, tgt, env=env))
                rmtree(repo)
            note = f"(dvc {b.peer_notes.get('dvc')})"
            b.report(
                "log_small_vs_dvc",
                dv.best / af.best,
                f"{label}: dvc add {fmt_s(dv.wall)} vs artiflow {af.best:.3f} s {note}"
                + cpu_note(af.cpu, dv.cpu, "dvc", inverse=True),
            )
            b.report(
                "relog_small_vs_dvc",
                dv_re.best / relog.best,
                f"{label} unchanged: dvc add {fmt_s(dv_re.wall)} vs artiflow "
                f"{relog.best:.3f} s {note}" + cpu_note(relog.cpu, dv_re.cpu, "dvc", inverse=True),
            )

    # MLflow
    if b.wanted("log_small_vs_mlflow") or b.wanted("download_small_vs_mlflow"):
        py = b.peer("mlflow")
        if py is None:
            b.skip(
                ["log_small_vs_mlflow", "download_small_vs_mlflow"],
                f"mlflow could not be installed: {b.peer_notes.get('mlflow')}",
            )
        else:
            ml, ml_dl = Series(), Series()
            for i in range(b.args.peer_reps):
                mdir = b.work / f"mlflow-small-{i}"
                rmtree(mdir)
                mdir.mkdir(parents=True)
                db = f"sqlite:///{mdir / 'mlflow.db'}"
                env = peer_env(b.work)
                ready(data)
                r = ml.add(
                    drive(
                        py,
                        PEER_DRIVERS / "mlflow_ops.py",
                        "log",
                        db,
                        mdir / "artifacts",
                        data,
                        env=env,
                    )
                )
                if b.wanted("download_small_vs_mlflow"):
                    ready(mdir)
                    ml_dl.add(
                        drive(
                            py,
                            PEER_DRIVERS / "mlflow_ops.py",
                            "download",
                            db,
                            r["run_id"],
                            mdir / "dl",
                            env=env,
                        )
                    )
                rmtree(mdir)
            note = f"(mlflow {b.peer_notes.get('mlflow')}, SQLite tracking, local artifact store)"
            b.report(
                "log_small_vs_mlflow",
                ml.best / af.best,
                f"{label}: mlflow.log_artifacts {fmt_s(ml.wall)} vs artiflow {af.best:.3f} s "
                f"{note}" + cpu_note(af.cpu, ml.cpu, "mlflow", inverse=True),
            )
            if ml_dl.wall and dl.wall:
                b.report(
                    "download_small_vs_mlflow",
                    ml_dl.best / dl.best,
                    f"{label}: mlflow download_artifacts {fmt_s(ml_dl.wall)} vs artiflow "
                    f"{dl.best:.3f} s {note}"
                    + cpu_note(dl.cpu, ml_dl.cpu, "mlflow", inverse=True)
                    + f"; ceiling for any copying download: mlflow / cp -r = "
                    f"{ml_dl.best / best(cp):.2f}x; artiflow with hard links: "
                    f"{ml_dl.best / hard.best:.2f}x",
                )
    rmtree(home)
    if not b.args.keep:
        rmtree(data)
        (data.parent / f".{data.name}.complete").unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# group: the commands as a user runs them (whole processes, imports included)
# --------------------------------------------------------------------------------------------
def cli_env(home: Path | None = None) -> dict[str, str]:
    """The environment of a timed ``artiflow`` command: this checkout first on the path, and
    byte code cached as for an installed package (``PYTHONDONTWRITEBYTECODE`` in the caller's
    environment would make every run compile artiflow's ~90 modules again; DVC's venv has its
    byte code from pip)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if home is not None:
        env["ARTIFLOW_HOME"] = str(home)
    return env


def cli_cmd() -> list[str]:
    script = Path(MAIN_PY).parent / "artiflow"  # the console script, as installed
    return [str(script)] if script.exists() else [MAIN_PY, "-m", "artiflow.cli"]


def run_timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process and its children) of a command."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        tail = (p.stderr.strip() or p.stdout.strip()).splitlines()[-4:]
        raise DriverError(f"{' '.join(cmd[:3])} exited {p.returncode}: " + " | ".join(tail))
    return dt, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def spread(xs: list[float]) -> str:
    """How far the slowest repetition is from the best: a verdict whose margin is smaller
    than this may flip from run to run."""
    if len(xs) < 2:
        return "1 run"
    return f"spread {(max(xs) - min(xs)) / min(xs) * 100:.0f}%"


def fmt_side(s: Series) -> str:
    return f"{fmt_s(s.wall)}, {spread(s.wall)}, CPU {best(s.cpu):.3f} s"


def group_cli(b: Bench) -> None:
    """``artiflow ls`` and ``artiflow log DIR`` as a shell user runs them, against ``dvc add``
    and ``cp -r`` of the same folder: whole processes, interpreter start and imports included
    on every side, the repetitions of the sides interleaved."""
    a = b.args
    cli = cli_cmd()

    # artiflow ls on a small registry (3 collections), with the interpreter's own floor beside it
    if b.wanted("cli_ls"):
        home = b.work / "af-cli-ls"
        rmtree(home)
        seed = b.work / "cli-seed"
        make_small(seed, 3, 1024)
        env = cli_env(home)
        for name in ("raw", "features", "model"):
            run_timed([*cli, "log", str(seed), "--name", name, "--no-progress"], env)
        ls, floor, sa = Series(), Series(), Series()
        sa_code = "import sqlalchemy, sqlalchemy.dialects.sqlite"
        for _ in range(2):  # warm-up: byte code written, files in the page cache
            run_timed([*cli, "ls"], env)
            run_timed([MAIN_PY, "-c", sa_code], env)
        for _ in range(a.cli_reps):
            for series, cmd in (
                (ls, [*cli, "ls"]),
                (floor, [MAIN_PY, "-c", "pass"]),
                (sa, [MAIN_PY, "-c", sa_code]),
            ):
                w, c = run_timed(cmd, env)
                series.wall.append(w)
                series.cpu.append(c)
        b.report(
            "cli_ls",
            ls.best,
            f"3 collections: `artiflow ls` {fmt_side(ls)}; for scale, on the same machine: "
            f"`python -c pass` {best(floor.wall):.3f} s (CPU {best(floor.cpu):.3f}), "
            f"`python -c 'import sqlalchemy'` {best(sa.wall):.3f} s (CPU {best(sa.cpu):.3f})",
        )
        rmtree(home)
        rmtree(seed)

    if not (b.wanted("cli_log_small_vs_dvc") or b.wanted("cli_log_small_vs_cp")):
        return
    n = a.files
    data = b.work / "data" / f"small-{n}"
    if not small_ready(data, n):
        make_small(data, n)
    label = f"{n:,} x 10 KiB"
    py = b.peer("dvc") if b.wanted("cli_log_small_vs_dvc") else None
    dvc = str(Path(py).parent / "dvc") if py else None
    if b.wanted("cli_log_small_vs_dvc") and dvc is None:
        b.skip(["cli_log_small_vs_dvc"], f"dvc could not be installed: {b.peer_notes.get('dvc')}")
    dvc_env = {**os.environ, **peer_env(b.work)}
    af, dv, cp = Series(), Series(), Series()
    for i in range(a.reps):
        home = b.work / f"af-cli-{i}"
        rmtree(home)
        ready(data)
        w, c = run_timed([*cli, "log", str(data), "--name", "cli", "--no-progress"], cli_env(home))
        af.wall.append(w)
        af.cpu.append(c)
        rmtree(home)
        if dvc is not None:
            repo = b.work / f"dvc-cli-{i}"
            rmtree(repo)
            repo.mkdir(parents=True)
            rmtree(b.work / "dvc-site")
            run_timed([dvc, "init", "--no-scm", "-q"], dvc_env, cwd=repo)
            tgt = repo / "data"
            for root, _dirs, files in os.walk(data):  # hard links: same inodes, warm cache
                rel = Path(root).relative_to(data)
                (tgt / rel).mkdir(parents=True, exist_ok=True)
                for f in files:
                    os.link(os.path.join(root, f), tgt / rel / f)
            ready(tgt)
            w, c = run_timed([dvc, "add", "-q", "data"], dvc_env, cwd=repo)
            dv.wall.append(w)
            dv.cpu.append(c)
            rmtree(repo)
        out = b.work / "cp-cli"
        for _ in range(2):  # the cheap baseline twice: its best is the most fragile number
            rmtree(out)
            ready(data)
            w, c = run_timed(["cp", "-r", str(data), str(out)], dict(os.environ))
            cp.wall.append(w)
            cp.cpu.append(c)
        rmtree(out)
    if dv.wall:
        b.report(
            "cli_log_small_vs_dvc",
            dv.best / af.best,
            f"{label}: `dvc add` {fmt_side(dv)} vs `artiflow log` {fmt_side(af)} "
            f"(dvc {b.peer_notes.get('dvc')}; CPU ratio {best(dv.cpu) / best(af.cpu):.2f})",
        )
    b.report(
        "cli_log_small_vs_cp",
        af.best / best(cp.wall),
        f"{label}: `artiflow log` {fmt_side(af)} vs `cp -r` {fmt_side(cp)} "
        f"(CPU ratio {best(af.cpu) / best(cp.cpu):.2f})",
    )
    if not a.keep:
        rmtree(data)
        (data.parent / f".{data.name}.complete").unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# group: resolve name:alias among many versions
# --------------------------------------------------------------------------------------------
def group_resolve(b: Bench) -> None:
    n = b.args.versions
    iters = b.args.resolve_iters
    home = b.work / f"af-resolve-{n}"
    rmtree(home)
    seeded = drive(MAIN_PY, DRIVERS / "seed.py", "versions", "--home", home, "model", n, "champion")
    r = artiflow("resolve", "--home", home, "model:champion", iters)
    p50_ms = r["p50"] * 1000
    b.report(
        "resolve_p50",
        p50_ms,
        f"{n:,} versions (alias at {seeded['alias_at']}): p50 {p50_ms:.3f} ms, "
        f"p90 {r['p90'] * 1000:.3f} ms over {iters} calls",
    )
    if b.wanted("resolve_vs_mlflow"):
        py = b.peer("mlflow")
        if py is None:
            b.skip(
                ["resolve_vs_mlflow"],
                f"mlflow could not be installed: {b.peer_notes.get('mlflow')}",
            )
        else:
            mdir = b.work / "mlflow-resolve"
            rmtree(mdir)
            mdir.mkdir(parents=True)
            db = f"sqlite:///{mdir / 'mlflow.db'}"
            env = peer_env(b.work)
            drive(py, PEER_DRIVERS / "mlflow_ops.py", "seed", db, "model", n, "champion", env=env)
            m = drive(
                py,
                PEER_DRIVERS / "mlflow_ops.py",
                "resolve",
                db,
                "model",
                "champion",
                iters,
                env=env,
            )
            b.report(
                "resolve_vs_mlflow",
                m["p50"] / r["p50"],
                f"{n:,} versions: MLflow p50 {m['p50'] * 1000:.3f} ms vs artiflow "
                f"{p50_ms:.3f} ms (mlflow {b.peer_notes.get('mlflow')}, SQLite)",
            )
            rmtree(mdir)
    rmtree(home)


# --------------------------------------------------------------------------------------------
# group: lineage on PostgreSQL
# --------------------------------------------------------------------------------------------
def group_lineage(b: Bench) -> None:
    try:
        import psycopg
    except ImportError as exc:
        b.skip(["lineage_depth50_pg"], f"psycopg missing in the main venv: {exc}")
        return
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except Exception as exc:
        b.skip(["lineage_depth50_pg"], f"no PostgreSQL at 127.0.0.1:5432: {exc}")
        return
    db = f"{PG_DB}_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}"')
        admin.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
    try:
        edges, length = b.args.edges, 100
        s = drive(MAIN_PY, DRIVERS / "seed.py", "lineage", "--db-url", url, edges, length)
        r = artiflow(
            "lineage",
            "--db-url",
            url,
            "--home",
            b.work / "af-lineage",
            s["target"],
            50,
            b.args.lineage_iters,
        )
        ms = r["p50"] * 1000
        b.report(
            "lineage_depth50_pg",
            ms,
            f"{s['edges']:,} run_io edges, {s['versions']:,} versions, {s['runs']:,} runs "
            f"(seeded by COPY in {s['seconds']:.1f} s); upstream of {s['target']} depth 50: "
            f"p50 {ms:.1f} ms, p90 {r['p90'] * 1000:.1f} ms, {r['nodes']} nodes / "
            f"{r['edges']} edges returned",
        )
    finally:
        rmtree(b.work / "af-lineage")
        with contextlib.suppress(Exception), psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# --------------------------------------------------------------------------------------------
# group: S3 (moto server on 127.0.0.1)
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def moto_server(work: Path) -> Iterator[tuple[str, int]]:
    exe = Path(MAIN_PY).parent / "moto_server"
    port = free_port()
    log = open(work / "moto.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise DriverError("moto server did not start")
        yield endpoint, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def moto_reset(endpoint: str, bucket: str) -> None:
    req = urllib.request.Request(endpoint + "/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=30).read()
    req = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    urllib.request.urlopen(req, timeout=30).read()


def group_s3(b: Bench) -> None:
    if not (Path(MAIN_PY).parent / "moto_server").exists():
        b.skip([c.name for c in CASES if c.group == "s3"], "moto_server missing in the main venv")
        return
    n = b.args.s3_files
    size = b.args.s3_big_mib * MiB
    small = b.work / "data" / f"s3small-{n}"
    if not small_ready(small, n):
        make_small(small, n)
    big = b.work / "data" / "s3big.bin"
    make_big(big, size)
    warm(small)
    warm(big)
    bucket = "bench"
    with moto_server(b.work) as (endpoint, moto_pid):
        env = {
            "BENCH_S3_ENDPOINT": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        if b.wanted("s3_small_vs_put_loop"):
            base = DRIVERS / "baseline_ops.py"
            server: dict[str, float] = {}

            def on_server(key: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
                moto_reset(endpoint, bucket)
                c0 = proc_cpu(moto_pid)
                out = fn()
                server[key] = proc_cpu(moto_pid) - c0
                return out

            loop = on_server(
                "loop",
                lambda: drive(
                    MAIN_PY, base, "s3_put_loop", endpoint, f"s3://{bucket}/loop", small, env=env
                ),
            )
            batch = on_server(
                "batch",
                lambda: drive(
                    MAIN_PY, base, "s3_put_batch", endpoint, f"s3://{bucket}/batch", small, env=env
                ),
            )
            home = b.work / "af-s3-small"
            rmtree(home)
            r = on_server(
                "artiflow",
                lambda: artiflow(
                    "log-dir",
                    "--home",
                    home,
                    "--store-url",
                    f"s3://{bucket}/objects",
                    "s3small",
                    small,
                    env=env,
                ),
            )
            rmtree(home)
            lw, bw, aw = loop["seconds"], batch["seconds"], r["seconds"]
            b.report(
                "s3_small_vs_put_loop",
                lw / aw,
                f"{n:,} x 10 KiB to moto: s3fs.put_file loop {lw:.2f} s vs artiflow {aw:.2f} s "
                f"({n / aw:.0f} files/s); one concurrent s3fs.put of all files {bw:.2f} s "
                f"({lw / bw:.2f}x the loop). moto server CPU: loop {server['loop']:.1f} s, "
                f"batch {server['batch']:.1f} s, artiflow {server['artiflow']:.1f} s "
                f"({server['artiflow'] / n * 1000:.1f} ms per object); client CPU: loop "
                f"{loop.get('cpu_s', float('nan')):.1f} s, artiflow {r['cpu_s']:.1f} s",
            )
        if b.wanted("s3_big_vs_put") or b.wanted("mem_s3_big"):
            moto_reset(endpoint, bucket)
            put = drive(
                MAIN_PY,
                DRIVERS / "baseline_ops.py",
                "s3_put_big",
                endpoint,
                f"s3://{bucket}/big.bin",
                big,
                env=env,
            )
            moto_reset(endpoint, bucket)
            home = b.work / "af-s3-big"
            rmtree(home)
            r = artiflow(
                "log-file",
                "--home",
                home,
                "--store-url",
                f"s3://{bucket}/objects",
                "s3big",
                big,
                env=env,
            )
            rmtree(home)
            moto_reset(endpoint, bucket)
            label = f"{size / GiB:g} GiB" if size >= GiB else f"{size // MiB} MiB"
            b.report(
                "s3_big_vs_put",
                r["seconds"] / put["seconds"],
                f"{label} to moto: artiflow {r['seconds']:.2f} s vs s3fs.put "
                f"{put['seconds']:.2f} s (s3fs.put peak RSS {put['maxrss_mib']:.0f} MiB)",
            )
            b.report(
                "mem_s3_big",
                r["maxrss_mib"],
                f"peak RSS of artiflow uploading {label}: {r['maxrss_mib']:.0f} MiB",
            )
    if not b.args.keep:
        rmtree(small)
        (small.parent / f".{small.name}.complete").unlink(missing_ok=True)
        big.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# group: Airflow / Prefect task overhead
# --------------------------------------------------------------------------------------------
def group_orchestrators(b: Bench) -> None:
    script = DRIVERS / "orchestrator_ops.py"
    for name, mod in (("airflow_overhead", "airflow"), ("prefect_overhead", "prefect")):
        if not b.wanted(name):
            continue
        if not script.exists():
            b.skip([name], "driver not written yet (integration not available)")
            continue
        home = b.work / f"af-{mod}"
        rmtree(home)
        home.mkdir(parents=True)
        try:
            r = drive(MAIN_PY, script, mod, home, b.args.task_iters, timeout=1800, cwd=home)
        except DriverError as exc:
            if "SKIP:" in str(exc):
                b.skip([name], str(exc).split("SKIP:", 1)[1].strip())
            else:
                b.skip([name], str(exc)[:500], status="ERROR")
            continue
        finally:
            rmtree(home)
        over_ms = (r["aware"] - r["plain"]) * 1000
        detail = (
            f"{r['how']}: plain {r['plain'] * 1000:.1f} ms vs artifact-aware "
            f"{r['aware'] * 1000:.1f} ms per task (median of {r['iters']})"
        )
        if "cpu_aware" in r:  # CPU time: the figure that still means something under load
            detail += f"; CPU {(r['cpu_aware'] - r['cpu_plain']) * 1000:.1f} ms over plain"
        if "cpu_floor" in r:  # a plain task making the Airflow calls an artifact task makes
            detail += (
                f" = Airflow's calls {(r['cpu_floor'] - r['cpu_plain']) * 1000:.1f} ms"
                f" + artiflow {(r['cpu_aware'] - r['cpu_floor']) * 1000:.1f} ms"
            )
        if "cpu_aware_all" in r:  # Prefect: the background artifact posts included
            detail += (
                f"; with background posts {(r['cpu_aware_all'] - r['cpu_plain_all']) * 1000:.1f} ms"
            )
        b.report(name, over_ms, detail)


GROUP_FUNCS: dict[str, Callable[[Bench], None]] = {
    "big": group_big,
    "small": group_small,
    "resolve": group_resolve,
    "lineage": group_lineage,
    "s3": group_s3,
    "cli": group_cli,
    "orchestrators": group_orchestrators,
}


# --------------------------------------------------------------------------------------------
# machine and results file
# --------------------------------------------------------------------------------------------
def machine_info(work: Path) -> dict[str, str]:
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    df = subprocess.run(["df", "-hT", str(work)], capture_output=True, text=True).stdout
    disk = "?"
    if df:
        parts = df.splitlines()[-1].split()
        disk = f"{parts[0]} {parts[1]}, {parts[2]} total, {parts[4]} free"
    rev = (
        subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "uncommitted"
    )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "disk": disk,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "commit": rev,
        "load": "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
    }


def write_results(path: Path, b: Bench, info: dict[str, str], elapsed: float) -> None:
    a = b.args
    lines = [
        "# artiflow benchmark results",
        "",
        f"- date: {info['date']}; commit {info['commit']}; run took {elapsed / 60:.1f} min",
        f"- machine: {info['nproc']} cores ({info['cpu']}), {info['memory']} RAM, "
        f"disk {info['disk']}; {info['os']}; Python {info['python']}",
        f"- load average at start {info['load']}, at end "
        + "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
        + " (a shared machine: other work competes for the 2 cores; CPU times are in the details)",
        f"- sizes: big file {a.big_mib} MiB, {a.files:,} small files of 10 KiB, "
        f"{a.versions:,} versions, {a.edges:,} lineage edges, S3: {a.s3_files:,} files and "
        f"{a.s3_big_mib} MiB; {a.reps} repetitions (peers {a.peer_reps}), best of each"
        + (" (--quick)" if a.quick else ""),
        "- peers: " + ", ".join(f"{k} {v}" for k, v in sorted(b.peer_notes.items()))
        if b.peer_notes
        else "- peers: not needed by the selected cases",
        "- ratios: `>=Nx` targets are peer time / artiflow time (bigger is better); "
        "`<=N` targets are artiflow time / baseline time; each side's time is the best of its "
        "repetitions (all are listed), CPU times (user + system) likewise",
        "",
        "| case | measured | target | result | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in b.results:
        detail = r.detail.replace("|", "\\|")
        lines.append(
            f"| `{r.case.name}` | {fmt_value(r.case.target, r.value)} | "
            f"{r.case.target} | {r.status} | {detail} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a ~2 min smoke test)")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CASE",
        help=f"a case or a group ({', '.join(GROUPS)}); repeatable, or comma-separated",
    )
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--work", type=Path, default=BENCH / ".work", help="scratch folder")
    p.add_argument("--results", type=Path, help="where to write the results table")
    p.add_argument("--keep", action="store_true", help="keep generated data between runs")
    p.add_argument("--strict", action="store_true", help="exit 1 when a case fails")
    p.add_argument(
        "--no-peer-install",
        action="store_true",
        help="use bench/.peers as it is; skip peers missing there",
    )
    p.add_argument("--reps", type=int, help="repetitions per artiflow/baseline measurement")
    p.add_argument("--peer-reps", type=int, help="repetitions per peer measurement")
    for name, full, quick in (
        ("--big-mib", 2048, 256),
        ("--files", 10_000, 2_000),
        ("--versions", 100_000, 10_000),
        ("--edges", 1_000_000, 100_000),
        ("--s3-files", 10_000, 500),
        ("--s3-big-mib", 1024, 128),
        ("--resolve-iters", 1000, 300),
        ("--lineage-iters", 30, 10),
        ("--task-iters", 10, 5),
        ("--cli-reps", 20, 5),
    ):
        p.add_argument(name, type=int, default=None, help=f"default {full:,} (--quick {quick:,})")
        p.set_defaults(**{f"_{name[2:].replace('-', '_')}_defaults": (full, quick)})
    a = p.parse_args(argv)
    for key in list(vars(a)):
        if key.startswith("_") and key.endswith("_defaults"):
            opt = key[1 : -len("_defaults")]
            full, quick = getattr(a, key)
            if getattr(a, opt) is None:
                setattr(a, opt, quick if a.quick else full)
            delattr(a, key)
    if a.reps is None:
        a.reps = 2 if a.quick else 3
    if a.peer_reps is None:
        a.peer_reps = 1 if a.quick else 2
    a.only = [o.strip() for item in a.only for o in item.split(",") if o.strip()]
    for o in a.only:
        if o not in BY_NAME and o not in GROUPS:
            p.error(f"unknown case or group {o!r}; see --list")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for c in CASES:
            print(f"{c.group:14} {c.name:26} {c.target:10} {c.what}")
        return 0
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    b = Bench(args, work)
    partial = args.quick or bool(args.only)
    results = args.results or (work / "results.md" if partial else BENCH / "results.md")
    info = machine_info(work)
    print(
        f"# artiflow bench {info['date']}: {info['nproc']} cores, {info['memory']}, "
        f"{info['disk']}, Python {info['python']}, load {info['load']}; work dir {work}",
        flush=True,
    )
    t0 = time.perf_counter()
    for group in GROUPS:
        if not b.group_wanted(group):
            continue
        print(f"# -- {group}", flush=True)
        try:
            # the big-file group deletes a few big files (no inode churn) and would need tens
            # of GiB if they waited for the end of the group
            with deferred_deletes(work) if group != "big" else contextlib.nullcontext():
                GROUP_FUNCS[group](b)
        except Exception as exc:
            err = f"{type(exc).__name__}: {exc}"
            if os.environ.get("BENCH_TRACEBACK"):
                traceback.print_exc()
            b.skip([c.name for c in CASES if c.group == group], err[:500], status="ERROR")
    elapsed = time.perf_counter() - t0
    write_results(results, b, info, elapsed)
    counts = {s: sum(r.status == s for r in b.results) for s in ("PASS", "FAIL", "SKIP", "ERROR")}
    print(
        f"# {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped, "
        f"{counts['ERROR']} errors in {elapsed:.0f} s; table in {results}",
        flush=True,
    )
    if args.strict and (counts["FAIL"] or counts["ERROR"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
