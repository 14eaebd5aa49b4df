"""Streaming hashing and the stat cache."""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import threading

import blake3
import pytest

from artiflow.hashing import CHUNK, PIPELINE_MIN, StatCache, hash_file, hash_stream


def test_hash_file_matches_blake3_and_feeds_the_sink(tmp_path):
    data = os.urandom(3 * CHUNK + 123)
    p = tmp_path / "f"
    p.write_bytes(data)
    sunk = bytearray()
    digest, size = hash_file(p, sink=sunk.extend)
    assert digest == blake3.blake3(data).hexdigest() and size == len(data) and bytes(sunk) == data
    assert hash_stream(io.BytesIO(data))[0] == digest


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A file just over the size from which the sink runs on a second thread."""
    p = tmp_path_factory.mktemp("big") / "big"
    data = blake3.blake3(b"seed").digest(length=PIPELINE_MIN + 3 * CHUNK + 17)
    p.write_bytes(data)
    return p, data


def test_big_file_sink_on_a_second_thread_gets_every_byte_in_order(big_file):
    p, data = big_file
    threads = {t.name for t in threading.enumerate()}
    sunk = bytearray()
    seen: list[int] = []
    digest, size = hash_file(p, sink=sunk.extend, progress=seen.append)
    assert digest == blake3.blake3(data).hexdigest() and size == len(data)
    assert bytes(sunk) == data and sum(seen) == len(data)
    assert {t.name for t in threading.enumerate()} == threads  # the writer thread is gone


@pytest.mark.parametrize("big", [False, True])
def test_a_sink_that_takes_part_of_a_chunk_still_gets_all(tmp_path, big_file, big):
    """Raw files' write() may take part of a buffer: the rest is offered again."""
    if big:
        p, data = big_file
    else:
        data = os.urandom(2 * CHUNK + 5)
        p = tmp_path / "f"
        p.write_bytes(data)
    sunk = bytearray()

    def stingy(chunk):
        take = max(1, len(chunk) // 3)
        sunk.extend(chunk[:take])
        return take

    assert hash_file(p, sink=stingy)[0] == blake3.blake3(data).hexdigest()
    assert bytes(sunk) == data


def test_a_failing_sink_on_the_writer_thread_raises_and_stops(big_file):
    p, _ = big_file
    threads = {t.name for t in threading.enumerate()}
    calls = []

    def disk_full(chunk):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return len(chunk)

    with pytest.raises(OSError, match="No space left"):
        hash_file(p, sink=disk_full)
    assert len(calls) == 3  # nothing is written after the failure
    assert {t.name for t in threading.enumerate()} == threads


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
