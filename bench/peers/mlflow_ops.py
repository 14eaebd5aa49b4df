"""MLflow driver for bench/run.py, run with bench/.peers/bin/python.

Usage:
    mlflow_ops.py log DB_URI ARTIFACT_ROOT SRC_DIR          # times mlflow.log_artifacts(SRC_DIR)
    mlflow_ops.py download DB_URI RUN_ID DST                # times download_artifacts of it
    mlflow_ops.py seed DB_URI NAME N ALIAS                  # N model versions, ALIAS on the middle
    mlflow_ops.py resolve DB_URI NAME ALIAS ITERS           # get_model_version_by_alias latency

Each prints one line ``BENCH_RESULT {json}``. Timings exclude imports and store creation.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sqlite3
import statistics
import sys
import time


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw), flush=True)


def cpu_now() -> float:
    """User + system CPU seconds of this process (all threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _quiet() -> None:
    os.environ.setdefault("MLFLOW_TRACKING_INSECURE_TLS", "false")
    os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)


def log(db_uri: str, artifact_root: str, src: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(db_uri)
    exp = mlflow.create_experiment("bench", artifact_location="file://" + artifact_root)
    with mlflow.start_run(experiment_id=exp) as run:
        c0 = cpu_now()
        t0 = time.perf_counter()
        mlflow.log_artifacts(src, artifact_path="data")
        dt = time.perf_counter() - t0
        cpu = cpu_now() - c0
    emit(seconds=dt, cpu_s=cpu, run_id=run.info.run_id)


def download(db_uri: str, run_id: str, dst: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(db_uri)
    mlflow.get_run(run_id)  # warm the store connection, as artiflow's driver does
    c0 = cpu_now()
    t0 = time.perf_counter()
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data", dst_path=dst)
    dt = time.perf_counter() - t0
    emit(seconds=dt, cpu_s=cpu_now() - c0, path=path)


def seed(db_uri: str, name: str, n: int, alias: str) -> None:
    """Create one model version through the API, then clone its row N-1 times in bulk."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=db_uri, registry_uri=db_uri)
    client.create_registered_model(name)
    client.create_model_version(name, source="file:///tmp/model", run_id=None)
    t0 = time.perf_counter()
    con = sqlite3.connect(db_uri.removeprefix("sqlite:///"))
    cols = [r[1] for r in con.execute("PRAGMA table_info(model_versions)")]
    sel = ", ".join("v.n" if c == "version" else f"m.{c}" for c in cols)
    con.execute(
        f"""INSERT INTO model_versions ({", ".join(cols)})
        WITH RECURSIVE seq(n) AS (SELECT 2 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
        SELECT {sel} FROM seq v JOIN model_versions m ON m.name = ? AND m.version = 1""",
        (n, name),
    )
    con.commit()
    con.close()
    client.set_registered_model_alias(name, alias, str(n // 2))
    emit(seconds=time.perf_counter() - t0, versions=n)


def resolve(db_uri: str, name: str, alias: str, iters: int) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=db_uri, registry_uri=db_uri)
    for _ in range(20):
        mv = client.get_model_version_by_alias(name, alias)
    lat = []
    for _ in range(iters):
        t0 = time.perf_counter()
        mv = client.get_model_version_by_alias(name, alias)
        lat.append(time.perf_counter() - t0)
    emit(
        seconds=statistics.median(lat),
        p50=statistics.median(lat),
        p90=sorted(lat)[int(0.9 * len(lat))],
        version=mv.version,
    )


def main(argv: list[str]) -> None:
    _quiet()
    cmd, args = argv[0], argv[1:]
    if cmd == "log":
        log(*args)
    elif cmd == "download":
        download(*args)
    elif cmd == "seed":
        seed(args[0], args[1], int(args[2]), args[3])
    elif cmd == "resolve":
        resolve(args[0], args[1], args[2], int(args[3]))
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
