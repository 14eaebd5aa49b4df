"""Code that runs in separate OS processes during the shared-registry tests (spawned, so it must be
importable and picklable). Every worker returns plain data and catches nothing it should not:
an exception travels back to the test as a failure."""

from __future__ import annotations

import os
import random
import time
import traceback
from pathlib import Path
from typing import Any

from artiflow import Artifact, Registry
from artiflow.exceptions import ArtifactFinalizedError


def _registry(db_url: str, store_url: str, home: str) -> Registry:
    return Registry(db_url, store_url, home=home)


def _guard(fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return {"ok": fn(*args)}
    except BaseException as exc:  # reported to the parent test, which fails on it
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}


# ---- concurrent logging ------------------------------------------------------------------
def _log_many(db_url: str, store_url: str, home: str, worker: int, count: int) -> list[int]:
    reg = _registry(db_url, store_url, home)
    indices = []
    work = Path(home) / f"w{worker}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        for i in range(count):
            art = Artifact("shared-ds", type="dataset", metadata={"worker": worker, "i": i})
            with art.new_file("data.txt") as fh:
                fh.write(f"worker {worker} item {i} {os.getpid()}\n")
            with art.new_file("common.txt") as fh:
                fh.write("the same in every version\n")
            indices.append(reg.log(art).index)
    finally:
        reg.close()
    return indices


def log_many(*args: Any) -> dict[str, Any]:
    return _guard(_log_many, *args)


# ---- concurrent alias moves ----------------------------------------------------------------
def _move_aliases(
    db_url: str, store_url: str, home: str, worker: int, count: int, versions: int
) -> list[str]:
    reg = _registry(db_url, store_url, home)
    rnd = random.Random(worker)
    seen = []
    try:
        for _ in range(count):
            target = f"alias-ds:v{rnd.randrange(versions)}"
            reg.alias(target, "production")
            # the alias always resolves, to exactly one version
            seen.append(reg.get("alias-ds:production").version)
            holders = [v.version for v in reg.versions("alias-ds") if "production" in v.aliases]
            if len(holders) != 1:
                raise AssertionError(f"production held by {holders}")
    finally:
        reg.close()
    return seen


def move_aliases(*args: Any) -> dict[str, Any]:
    return _guard(_move_aliases, *args)


# ---- collaborative versions ----------------------------------------------------------------
def _upsert_parts(
    db_url: str, store_url: str, home: str, worker: int, parts: int, finish_after: int | None
) -> dict[str, Any]:
    reg = _registry(db_url, store_url, home)
    added: list[str] = []
    refused: list[str] = []
    version = None
    try:
        for i in range(parts):
            art = Artifact("shards", type="dataset")
            path = f"part-{worker}-{i}.txt"
            with art.new_file(path) as fh:
                fh.write(f"{worker}/{i}")
            try:
                reg.upsert(art, distributed_id="run-1")
                added.append(path)
            except ArtifactFinalizedError:
                refused.append(path)
            if finish_after is not None and i == finish_after:
                try:
                    version = reg.finish(Artifact("shards", type="dataset"), "run-1").version
                except ArtifactFinalizedError:
                    version = "already-finished"
    finally:
        reg.close()
    return {"added": added, "refused": refused, "finished": version}


def upsert_parts(*args: Any) -> dict[str, Any]:
    return _guard(_upsert_parts, *args)


# ---- one run of a small artifact-aware pipeline ----------------------------------------------
def _pipeline_run(db_url: str, store_url: str, home: str, run_no: int) -> dict[str, Any]:
    """extract -> train, like a DAG run: train consumes the dataset *its own* extract produced,
    even while other runs log newer versions of the same collection."""
    reg = _registry(db_url, store_url, home)
    pipeline_run = f"manual__run-{run_no}"
    ctx = {"orchestrator": "airflow", "pipeline": "etl", "pipeline_run": pipeline_run}
    try:
        with reg.run("extract", task="extract", **ctx) as run:
            art = Artifact("pipe-ds", type="dataset")
            with art.new_file("rows.csv") as fh:
                fh.write(f"run,{run_no}\n" + "x\n" * (run_no + 1))
            produced = run.log(art)
        time.sleep(random.Random(run_no).uniform(0, 0.3))  # let other runs log newer versions
        with reg.run("train", task="train", **ctx) as run:
            pinned = reg.produced_in(
                "pipe-ds", orchestrator="airflow", pipeline_run=pipeline_run, tasks=["extract"]
            )
            assert pinned is not None
            ds = run.use(pinned)
            root = ds.download(Path(home) / f"in-{run_no}")
            text = (root / "rows.csv").read_text()
            model = Artifact("pipe-model", type="model", metadata={"trained_on": ds.ref})
            with model.new_file("model.txt") as fh:
                fh.write(f"model of {text.splitlines()[0]}")
            model_v = run.log(model)
        return {
            "produced": produced.ref,
            "consumed": ds.ref,
            "content_run": text.splitlines()[0],
            "model": model_v.ref,
        }
    finally:
        reg.close()


def pipeline_run(*args: Any) -> dict[str, Any]:
    return _guard(_pipeline_run, *args)


# ---- a writer that gets SIGKILLed half-way -------------------------------------------------
def crash_child(db_url: str, store_url: str, home: str, src: str, slow: float) -> None:
    """Log ``src`` (a folder with a big file and many small ones), announcing on stdout when
    content starts to move. The parent kills this process with SIGKILL soon after."""
    import sys

    reg = _registry(db_url, store_url, home)
    told = [False]

    def progress(n: int) -> None:
        if not told[0]:
            told[0] = True
            sys.stdout.write("STARTED\n")
            sys.stdout.flush()
        time.sleep(slow)  # keep the transfer in flight long enough to be killed in it

    art = Artifact("crash-ds", type="dataset")
    art.add_dir(src)
    reg.log(art, progress=progress)
    sys.stdout.write("COMMITTED\n")
    sys.stdout.flush()


# ---- several outputs in one commit -----------------------------------------------------------
def _log_pairs(db_url: str, store_url: str, home: str, worker: int, count: int) -> list[list[int]]:
    """Log two collections in one commit, in opposite orders in odd and even workers (a lock
    order that is not sorted would deadlock on PostgreSQL)."""
    reg = _registry(db_url, store_url, home)
    out = []
    try:
        for i in range(count):
            drafts = []
            for name in ("pair-a", "pair-b"):
                art = Artifact(name, type="dataset", metadata={"worker": worker, "i": i})
                with art.new_file("x.txt") as fh:
                    fh.write(f"{name} {worker} {i}")
                drafts.append(art)
            if worker % 2:
                drafts.reverse()
            versions = reg.log_many(drafts)
            out.append(sorted((v.collection, v.index) for v in versions))
    finally:
        reg.close()
    return [[idx for _, idx in pair] for pair in out]


def log_pairs(*args: Any) -> dict[str, Any]:
    return _guard(_log_pairs, *args)


# ---- logging through database faults ----------------------------------------------------------
def _log_through_faults(
    db_url: str, store_url: str, home: str, worker: int, count: int, name: str
) -> dict[str, Any]:
    """Log ``count`` versions of distinct content while the database restarts under us. A
    fault artiflow could not ride out must surface as a StoreError that says nothing was
    written (then logging again is safe, and this worker does); anything else fails the test."""
    from artiflow.exceptions import StoreError

    reg = _registry(db_url, store_url, home)
    indices: list[int] = []
    surfaced: list[str] = []
    try:
        for i in range(count):
            while True:
                art = Artifact(name, type="dataset", metadata={"worker": worker, "i": i})
                with art.new_file("data.txt") as fh:
                    fh.write(f"worker {worker} item {i}\n")
                try:
                    indices.append(reg.log(art).index)
                    break
                except StoreError as exc:
                    if "nothing was written" not in str(exc) or len(surfaced) > 20:
                        raise
                    surfaced.append(str(exc))
                    time.sleep(0.2)
    finally:
        reg.close()
    return {"indices": indices, "surfaced": surfaced}


def log_through_faults(*args: Any) -> dict[str, Any]:
    return _guard(_log_through_faults, *args)


# ---- many writers with alias moves ------------------------------------------------------------
_start_line: Any = None  # the pool's barrier (a multiprocessing.Barrier), set in each worker


def start_together(barrier: Any) -> None:
    """Pool initializer of the heavy writers: the barrier each one waits at, with its registry
    open, before its first commit (one writer per pool process: each blocks there until all
    have arrived, so none takes a second writer's task)."""
    global _start_line
    _start_line = barrier


def _log_and_move(
    db_url: str, store_url: str, home: str, worker: int, count: int
) -> dict[str, Any]:
    """Log ``count`` versions of one collection; every 5th also takes the alias ``production``
    (at log time) and every 7th moves ``staging`` onto the version just logged. Starts once
    every writer of the pool is up (``start_together``)."""
    reg = _registry(db_url, store_url, home)
    indices = []
    try:
        _start_line.wait(timeout=600)  # all writers start together, once all are up
        started = time.time()
        for i in range(count):
            art = Artifact("heavy-ds", type="dataset", metadata={"worker": worker, "i": i})
            with art.new_file("data.txt") as fh:
                fh.write(f"worker {worker} item {i}\n")
            v = reg.log(art, aliases=["production"] if i % 5 == 4 else ())
            if i % 7 == 6:
                reg.alias(v.ref, "staging")
            indices.append(v.index)
        done = time.time()
    finally:
        reg.close()
    return {"indices": indices, "started": started, "done": done}


def log_and_move(*args: Any) -> dict[str, Any]:
    return _guard(_log_and_move, *args)


def _verify_versions(db_url: str, store_url: str, home: str, refs: list[str], dest: str) -> int:
    """Download each version of ``refs`` under ``dest`` and verify it against its manifest."""
    reg = _registry(db_url, store_url, home)
    try:
        for ref in refs:
            v = reg.get(ref)
            v.verify(v.download(Path(dest) / v.version))
    finally:
        reg.close()
    return len(refs)


def verify_versions(*args: Any) -> dict[str, Any]:
    return _guard(_verify_versions, *args)
