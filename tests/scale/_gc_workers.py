"""Writers that race gc in their own OS processes (started with ``python -c``, never forked from
the pytest process). Each prints one JSON line on stdout as its last output."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from artiflow import Artifact, Registry


def _say(**data: object) -> None:
    print(json.dumps(data), flush=True)


def relog(db_url: str, store_url: str, home: str, name: str, text: str) -> None:
    """Log one file ``a.txt`` holding ``text`` into ``name`` and commit."""
    with Registry(db_url, store_url, home=home) as reg:
        art = Artifact(name, type="dataset")
        with art.new_file("a.txt") as fh:
            fh.write(text)
        v = reg.log(art)
        _say(ref=v.ref, digest=v.get_path("a.txt").digest)


def paused_relog(
    db_url: str, store_url: str, home: str, name: str, text: str, ready: str, go: str
) -> None:
    """Like :func:`relog`, but stop right after the store was checked for the blob (the first
    progress report): create ``ready``, wait for ``go``, then commit."""
    state = {"paused": False}

    def progress(_n: int) -> None:
        if not state["paused"]:
            state["paused"] = True
            Path(ready).touch()
            deadline = time.monotonic() + 60
            while not os.path.exists(go):
                if time.monotonic() > deadline:
                    raise TimeoutError("the test never said go")
                time.sleep(0.01)

    with Registry(db_url, store_url, home=home) as reg:
        art = Artifact(name, type="dataset")
        with art.new_file("a.txt") as fh:
            fh.write(text)
        v = reg.log(art, progress=progress)
        _say(ref=v.ref, digest=v.get_path("a.txt").digest, paused=state["paused"])


POOL = [f"shared content {k}\n" * 50 for k in range(6)]


#: every stress writer commits at least this often, however slow the machine (a loaded machine
#: and moto make a few commits take seconds), unless HARD_LIMIT_S passes first
MIN_COMMITS = 4
HARD_LIMIT_S = 120.0


def stress_writer(db_url: str, store_url: str, home: str, worker: int, seconds: float) -> None:
    """Until ``seconds`` pass and at least :data:`MIN_COMMITS` were made: log a version made of
    contents from a small shared pool (so its blobs are often ones that only deleted versions
    used: gc's favourite victims), check that every blob of the version just committed is in
    the store, then delete the previous one."""
    rnd = random.Random(worker)
    commits = lost = 0
    lost_refs: list[str] = []
    with Registry(db_url, store_url, home=home) as reg:
        start = time.monotonic()
        deadline, hard = start + seconds, start + HARD_LIMIT_S
        previous = None
        while time.monotonic() < deadline or (commits < MIN_COMMITS and time.monotonic() < hard):
            art = Artifact(f"stress-{worker}", type="dataset", metadata={"n": commits})
            for f in ("a.txt", "b.txt"):
                with art.new_file(f) as fh:
                    fh.write(rnd.choice(POOL))
            v = reg.log(art)
            commits += 1
            gone = reg.store.missing({e.digest for e in v.files() if e.digest})
            if gone:  # a committed, live version without its content: data loss
                lost += len(gone)
                lost_refs.append(v.ref)
            if previous is not None and previous.index != v.index:
                previous.delete()
            previous = v
    _say(commits=commits, lost=lost, lost_refs=lost_refs[:5])


if __name__ == "__main__":
    fn = globals()[sys.argv[1]]
    args: list[object] = list(sys.argv[2:])
    if fn is stress_writer:
        args[3], args[4] = int(str(args[3])), float(str(args[4]))
    fn(*args)
