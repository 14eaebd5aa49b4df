"""The flow tests/prefect/test_prefect_real_server.py deploys to a process work pool.

One flow run is one pipeline run: two producers of ``numbers``, each consumer pinned to the
producer it waited for; ``ds:production`` read in the flow, in a subflow and again in the flow
after the alias moved mid-run (all three the version locked first); a mapped collaborative
task whose parts record their map index. A replay of the run (``artiflow.prefect.replay``)
reads what the original read and reproduces every output's digest.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from artiflow import Artifact
from artiflow.prefect import artifact_task, commit_parts


@artifact_task(outputs={"out": "numbers"})
def produce(out: Artifact, n: int) -> int:
    with out.new_file("data.txt") as f:
        f.write(" ".join(str(i) for i in range(n)))
    return n


@artifact_task(inputs={"numbers": "numbers"}, outputs={"total": "total"})
def add_up(numbers: Any, total: Artifact) -> int:
    value = sum(int(x) for x in (numbers.local_path / "data.txt").read_text().split())
    with total.new_file("total.txt") as f:
        f.write(str(value))
    return value


@artifact_task(inputs={"ds": "ds:production"})
def read_ds(ds: Any, where: str) -> str:
    return str(ds.version)


@task
def move_production() -> None:
    """What a concurrent promotion does in the middle of the flow run."""
    from artiflow._tasking import default_registry

    default_registry().alias("ds:v1", "production")


@artifact_task(outputs={"part": "parts"}, collaborative=True)
def part(i: int, part: Artifact) -> int:
    with part.new_file(f"part-{i}.txt") as f:
        f.write(f"part {i}")
    return i


@flow(name="real-consistency-child")
def child() -> str:
    return read_ds("child")


@flow(name="real-consistency")
def consistency(artiflow: dict[str, Any] | None = None) -> dict[str, Any]:
    a = produce.submit(n=3)  # 0 1 2
    b = produce.with_options(name="produce-b").submit(n=5, wait_for=[a])  # 0 1 2 3 4: newest
    b.wait()
    first = read_ds("parent")
    move_production()
    parts = part.map([0, 1])
    committed = commit_parts(part, wait_for=parts).result()
    return {
        "wait_for_a": add_up.with_options(name="add-up-a").submit(wait_for=[a]).result(),
        "wait_for_b": add_up.with_options(name="add-up-b").submit(wait_for=[b]).result(),
        "parent": first,
        "child": child(),
        "parent_again": read_ds("parent-again"),
        "parts": committed,
    }
