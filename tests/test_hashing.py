"""Streaming hashing and the stat cache."""

from __future__ import annotations

import io
import multiprocessing as mp
import os

import blake3

from artiflow.hashing import CHUNK, StatCache, hash_file, hash_stream


def test_hash_file_matches_blake3_and_feeds_the_sink(tmp_path):
    data = os.urandom(3 * CHUNK + 123)
    p = tmp_path / "f"
    p.write_bytes(data)
    sunk = bytearray()
    digest, size = hash_file(p, sink=sunk.extend)
    assert digest == blake3.blake3(data).hexdigest() and size == len(data) and bytes(sunk) == data
    assert hash_stream(io.BytesIO(data))[0] == digest


def test_stat_cache_hits_only_unchanged_files(tmp_path):
    cache = StatCache(tmp_path / "stat.db")
    p = tmp_path / "f"
    p.write_text("one")
    os.utime(p, ns=(10**9, 10**9))
    cache.store([(str(p), os.stat(p), "d1")])
    assert cache.lookup([str(p)]) == {str(p): "d1"}
    p.write_text("two")  # new mtime and size
    assert cache.lookup([str(p)]) == {}


def test_stat_cache_skips_racily_modified_files(tmp_path):
    cache = StatCache(tmp_path / "stat.db")
    p = tmp_path / "fresh"
    p.write_text("just written")
    cache.store([(str(p), os.stat(p), "d")])  # mtime within the racy window: not remembered
    assert cache.lookup([str(p)]) == {}


def _open_and_use(args):
    path, target, i, barrier = args
    barrier.wait()
    cache = StatCache(path)
    cache.store([(target, os.stat(target), f"d{i}")])
    return len(cache.lookup([target]))


def test_many_processes_open_a_new_stat_cache_at_once(tmp_path):
    target = tmp_path / "f"
    target.write_text("x")
    os.utime(target, ns=(10**9, 10**9))
    ctx = mp.get_context("spawn")  # never fork: earlier tests leave threads running in this process
    with ctx.Manager() as manager:
        barrier = manager.Barrier(8)
        with ctx.Pool(8) as pool:
            hits = pool.map(
                _open_and_use,
                [(str(tmp_path / "stat.db"), str(target), i, barrier) for i in range(8)],
            )
    assert hits == [1] * 8
