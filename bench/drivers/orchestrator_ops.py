"""Overhead of an artifact-aware task over a plain one (main venv).

Usage:
    orchestrator_ops.py airflow HOME ITERS
    orchestrator_ops.py prefect HOME ITERS

Both tasks read one small input file and write one small output file. The plain task uses local
paths; the artifact-aware one gets the input from the registry (``bench-in:latest``, resolved,
downloaded, a *used* edge recorded) and logs the output as a new version of ``bench-out`` (a
*logged* edge, a run row, events). Airflow: one-task DAGs run with ``dag.test()``, alternating,
plus a third, ``floor``: a plain task that makes the Airflow calls an artifact task makes (inlet
and outlet Assets, the ``artiflow`` XCom, the ``artiflow_default`` connection look-up), so
``aware - floor`` is artiflow's own share and ``floor - plain`` Airflow's (``cpu_floor``);
Prefect: tasks called alternately inside one flow. The result is the median per-task wall time of
each kind after warm-up, and the median CPU time (``cpu_plain`` / ``cpu_aware``: process_time, all
threads; what to compare on a loaded machine); Prefect also gives ``cpu_plain_all`` /
``cpu_aware_all``, the mean CPU per task of a block of each kind including the artifacts the
reporter thread posts in the background (which the alternating medians may count on either
side). Prints ``BENCH_RESULT {json}``; exits 3 with
``SKIP: reason`` when the integration is not available.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import textwrap
import time
from pathlib import Path


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw), flush=True)


def skip(reason: str) -> None:
    print(f"SKIP: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(3)


def seed_input(home: Path) -> Path:
    from artiflow import Artifact, Registry

    src = home / "in.csv"
    src.write_text("a,b\n1,2\n")
    reg = Registry()
    art = Artifact("bench-in", type="dataset")
    art.add_file(src)
    reg.log(art)
    return src


AIRFLOW_DAGS = """
from pathlib import Path
import time

from airflow.sdk import dag, task

from artiflow.operators import artifact_asset, artifact_task

HOME = Path({home!r})


@dag(schedule=None, catchup=False)
def bench_plain():
    @task
    def plain():
        data = (HOME / "in.csv").read_text()
        (HOME / "plain-out.csv").write_text(data + str(time.time_ns()))

    plain()


@dag(schedule=None, catchup=False)
def bench_aware():
    @artifact_task(inputs={{"raw": "bench-in:latest"}}, outputs={{"out": "bench-out"}})
    def aware(raw, out):
        data = Path(raw.file()).read_text()
        with out.new_file("out.csv") as fh:
            fh.write(data + str(time.time_ns()))

    aware()


@dag(schedule=None, catchup=False)
def bench_floor():
    # a plain task making the Airflow calls an artifact task must make: its inlet and outlet
    # Assets (validated, and an asset event on success), the XCom under the artiflow key, and
    # the look-up of the artiflow_default connection (absent here: the ARTIFLOW_* environment)
    @task(inlets=[artifact_asset("bench-in")], outlets=[artifact_asset("bench-out")])
    def floor():
        from airflow.sdk import BaseHook, get_current_context

        data = (HOME / "in.csv").read_text()
        (HOME / "floor-out.csv").write_text(data + str(time.time_ns()))
        try:
            BaseHook.get_connection("artiflow_default")
        except Exception:
            pass
        get_current_context()["ti"].xcom_push(
            key="artiflow",
            value={{"run": "0" * 32, "inputs": {{"raw": "default/bench-in:v0"}},
                   "outputs": {{"out": "default/bench-out:v0"}}, "parts": {{}},
                   "generations": {{}}, "files": {{}}}},
        )

    floor()


bench_plain()
bench_aware()
bench_floor()
"""


def run_airflow(home: Path, iters: int) -> None:
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        }
    )
    try:
        import airflow  # noqa: F401

        import artiflow.operators  # noqa: F401
    except Exception as exc:
        skip(f"Airflow integration not importable: {type(exc).__name__}: {exc}")
    seed_input(home)
    (dags / "bench_dags.py").write_text(textwrap.dedent(AIRFLOW_DAGS.format(home=str(home))))
    from airflow.utils import db

    db.resetdb()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(dags))
    if bag.import_errors:
        skip(f"bench DAGs do not import: {bag.import_errors}")
    sides = {name: bag.dags[f"bench_{name}"] for name in ("plain", "aware", "floor")}
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(iters + 2):
        for name, dag in sides.items():
            t0, c0 = time.perf_counter(), time.process_time()
            dr = dag.test()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            state = str(getattr(dr, "state", "?"))
            if "success" not in state:
                raise SystemExit(f"{name} DAG run ended {state}")
            if i >= 2:
                times[name].append(dt)
                cpu[name].append(dc)
    emit(
        plain=statistics.median(times["plain"]),
        aware=statistics.median(times["aware"]),
        cpu_plain=statistics.median(cpu["plain"]),
        cpu_aware=statistics.median(cpu["aware"]),
        floor=statistics.median(times["floor"]),
        cpu_floor=statistics.median(cpu["floor"]),
        iters=iters,
        how="one-task DAG run with dag.test() (same DAG-run overhead on both sides)",
    )


def run_prefect(home: Path, iters: int) -> None:
    os.environ.update(
        {
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "ERROR",
        }
    )
    os.environ.pop("PREFECT_API_URL", None)
    try:
        from prefect import flow, task
        from prefect.cache_policies import NO_CACHE

        from artiflow.prefect import artifact_task
    except Exception as exc:
        skip(f"Prefect integration not importable: {type(exc).__name__}: {exc}")
    seed_input(home)

    @task(cache_policy=NO_CACHE)
    def plain(i: int) -> None:
        data = (home / "in.csv").read_text()
        (home / "plain-out.csv").write_text(data + str(time.time_ns()))

    @artifact_task(inputs={"raw": "bench-in:latest"}, outputs={"out": "bench-out"})
    def aware(raw, out, i: int) -> None:  # type: ignore[no-untyped-def]
        data = Path(raw.file()).read_text()
        with out.new_file("out.csv") as fh:
            fh.write(data + str(time.time_ns()))

    @flow
    def bench_flow(n: int) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"plain": [], "aware": [], "cpu_plain": [], "cpu_aware": []}
        for i in range(n + 2):
            for name, fn in (("plain", plain), ("aware", aware)):
                t0, c0 = time.perf_counter(), time.process_time()
                fn(i=i)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                if i >= 2:
                    times[name].append(dt)
                    times["cpu_" + name].append(dc)
        return times

    @flow
    def bench_blocks(n: int) -> dict[str, float]:
        # every kind in a block of its own, the artifacts posted in the background included
        # (flush_events): the whole CPU per task, wherever the process spent it
        from artiflow.prefect import flush_events

        out: dict[str, float] = {}
        for name, fn in (("plain", plain), ("aware", aware)):
            flush_events()
            c0 = time.process_time()
            for i in range(n):
                fn(i=i)
            flush_events()
            out[name] = (time.process_time() - c0) / n
        return out

    times = bench_flow(iters)
    blocks = bench_blocks(iters)
    emit(
        plain=statistics.median(times["plain"]),
        aware=statistics.median(times["aware"]),
        cpu_plain=statistics.median(times["cpu_plain"]),
        cpu_aware=statistics.median(times["cpu_aware"]),
        cpu_plain_all=blocks["plain"],
        cpu_aware_all=blocks["aware"],
        iters=iters,
        how="task called inside one flow (same task-run overhead on both sides)",
    )


def main(argv: list[str]) -> None:
    kind, home, iters = argv[0], Path(argv[1]).resolve(), int(argv[2])
    os.environ["ARTIFLOW_HOME"] = str(home / "registry")
    os.environ.pop("ARTIFLOW_DB_URL", None)
    os.environ.pop("ARTIFLOW_STORE_URL", None)
    try:
        import artiflow

        artiflow.Registry  # noqa: B018
    except Exception as exc:
        skip(f"artiflow core not importable: {exc}")
    if kind == "airflow":
        run_airflow(home, iters)
    elif kind == "prefect":
        run_prefect(home, iters)
    else:
        raise SystemExit(f"unknown orchestrator {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
