"""Physical-limit baselines for bench/run.py, run with the main venv's python.

Usage:
    baseline_ops.py hash_cp SRC DST                    # BLAKE3 of SRC (streamed), then `cp SRC DST`
    baseline_ops.py s3_put_loop ENDPOINT URL SRC_DIR   # sequential s3fs.put_file of every file
    baseline_ops.py s3_put_batch ENDPOINT URL SRC_DIR  # one s3fs.put of all files (concurrent)
    baseline_ops.py s3_put_big ENDPOINT URL FILE       # one s3fs.put of a big file

Prints one line ``BENCH_RESULT {json}`` with ``seconds`` and ``maxrss_mib``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def emit(**kw: object) -> None:
    kw["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH_RESULT " + json.dumps(kw), flush=True)


def cpu_now() -> float:
    """User + system CPU seconds of this process (all threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def hash_cp(src: str, dst: str) -> None:
    import blake3

    c0 = cpu_now()
    t0 = time.perf_counter()
    h = blake3.blake3()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    h.hexdigest()
    t1 = time.perf_counter()
    subprocess.run(["cp", src, dst], check=True)
    t2 = time.perf_counter()
    emit(seconds=t2 - t0, cpu_s=cpu_now() - c0, hash_s=t1 - t0, cp_s=t2 - t1)


def _s3(endpoint: str):
    import s3fs

    return s3fs.S3FileSystem(
        key="testing", secret="testing", client_kwargs={"endpoint_url": endpoint}
    )


def s3_put_loop(endpoint: str, url: str, src_dir: str) -> None:
    fs = _s3(endpoint)
    fs.ls(url.split("/", 3)[2])  # open the connection outside the timing
    files = []
    for root, _dirs, names in os.walk(src_dir):
        for n in names:
            p = os.path.join(root, n)
            files.append((p, os.path.relpath(p, src_dir)))
    c0 = cpu_now()
    t0 = time.perf_counter()
    for p, rel in files:
        fs.put_file(p, f"{url.rstrip('/')}/{rel}")
    emit(seconds=time.perf_counter() - t0, cpu_s=cpu_now() - c0, files=len(files))


def s3_put_batch(endpoint: str, url: str, src_dir: str) -> None:
    """One ``fs.put`` of every file: s3fs's own concurrency (a ceiling for concurrent uploads)."""
    fs = _s3(endpoint)
    fs.ls(url.split("/", 3)[2])
    srcs, dsts = [], []
    for root, _dirs, names in os.walk(src_dir):
        for n in names:
            p = os.path.join(root, n)
            srcs.append(p)
            dsts.append(f"{url.rstrip('/')}/{os.path.relpath(p, src_dir)}")
    c0 = cpu_now()
    t0 = time.perf_counter()
    fs.put(srcs, dsts)
    emit(seconds=time.perf_counter() - t0, cpu_s=cpu_now() - c0, files=len(srcs))


def s3_put_big(endpoint: str, url: str, path: str) -> None:
    fs = _s3(endpoint)
    fs.ls(url.split("/", 3)[2])
    t0 = time.perf_counter()
    fs.put(path, url)
    emit(seconds=time.perf_counter() - t0, size=os.path.getsize(path))


def main(argv: list[str]) -> None:
    cmd, args = argv[0], argv[1:]
    if cmd == "hash_cp":
        hash_cp(*args)
    elif cmd == "s3_put_loop":
        s3_put_loop(*args)
    elif cmd == "s3_put_batch":
        s3_put_batch(*args)
    elif cmd == "s3_put_big":
        s3_put_big(*args)
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
