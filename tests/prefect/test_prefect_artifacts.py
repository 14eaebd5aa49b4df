"""Markdown (and link) artifacts of artifact tasks: async tasks, every task runner.

Each task run that logs a version gets exactly one markdown artifact on its task run (and a
link artifact to the artiflow web page of the version when ``ARTIFLOW_UI_URL`` is set), whether
the task is async, runs in threads (``ThreadPoolTaskRunner``) or in other processes
(``ProcessPoolTaskRunner``, whose workers inherit the environment).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from prefect import flow
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from artiflow import Artifact
from artiflow.prefect import artifact_task, flush_events


@artifact_task(outputs={"out": "numbers"})
def produce(n: int, out: Artifact) -> int:
    with out.new_file("data.txt") as f:
        f.write(str(n))
    return n


@artifact_task(outputs={"out": "numbers"})
async def produce_async(n: int, out: Artifact) -> int:
    await asyncio.sleep(0)
    with out.new_file("data.txt") as f:
        f.write(str(n))
    return n


def _artifacts(registry: Any) -> dict[str, list[Any]]:
    """``{task run id: artifacts}`` for every version of ``numbers``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterTaskRunId

    flush_events()
    ids = [v.logged_by().info["task_run_id"] for v in registry.versions("numbers")]
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(task_run_id=ArtifactFilterTaskRunId(any_=ids))
        )
    found: dict[str, list[Any]] = {i: [] for i in ids}
    for a in arts:
        found[str(a.task_run_id)].append(a)
    return found


def _assert_one_markdown_each(registry: Any, count: int) -> None:
    found = _artifacts(registry)
    assert len(found) == count
    for task_run_id, arts in found.items():
        assert [a.type for a in arts] == ["markdown"], (task_run_id, arts)
    refs = {v.ref for v in registry.versions("numbers")}
    assert refs == {r for arts in found.values() for r in refs if r in arts[0].data}


def test_async_tasks_create_their_markdown_artifacts(registry: Any) -> None:
    @flow
    async def pipeline() -> list[int]:
        return list(await asyncio.gather(*(produce_async(i) for i in range(3))))

    assert sorted(asyncio.run(pipeline())) == [0, 1, 2]
    _assert_one_markdown_each(registry, 3)


def test_async_task_in_a_sync_flow(registry: Any) -> None:
    @flow
    def pipeline() -> int:
        return produce_async(5)  # type: ignore[no-any-return]

    assert pipeline() == 5
    _assert_one_markdown_each(registry, 1)


@pytest.mark.parametrize("runner", ["threads", "processes"])
def test_every_task_runner_creates_the_markdown_artifacts(registry: Any, runner: str) -> None:
    task_runner: Any = (
        ThreadPoolTaskRunner(max_workers=3)
        if runner == "threads"
        else ProcessPoolTaskRunner(max_workers=2)
    )

    @flow(task_runner=task_runner)
    def pipeline() -> list[int]:
        futures = [produce.submit(i) for i in range(3)]
        futures += [produce_async.submit(i) for i in range(3, 5)]
        return [f.result() for f in futures]

    assert sorted(pipeline()) == [0, 1, 2, 3, 4]
    _assert_one_markdown_each(registry, 5)


def test_link_artifact_to_the_web_page(registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTIFLOW_UI_URL", "http://artiflow.example:8080/ui/")

    @flow
    def pipeline() -> int:
        return produce(1)  # type: ignore[no-any-return]

    pipeline()
    found = _artifacts(registry)
    (arts,) = found.values()
    assert sorted(a.type for a in arts) == ["link", "markdown"]
    link = next(a for a in arts if a.type == "link")
    assert "http://artiflow.example:8080/ui/" in str(link.data)
    assert "numbers" in str(link.data)


def test_the_reporter_reuses_one_prefect_client_for_every_task(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each artifact task's markdown is posted, but not through a new Prefect client per task:
    building one costs ~25 ms of CPU (an SSL context, a CSRF token request), more than the
    task's own bookkeeping. Prefect's ``get_client`` is counted (the calls artiflow makes),
    not replaced."""
    import prefect.client.orchestration as orchestration

    real = orchestration.get_client
    built: list[bool] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_globals.get("__name__", "").startswith("artiflow"):
            built.append(True)  # artiflow's reporter, not Prefect's own engine
        return real(*args, **kwargs)

    @flow
    def pipeline() -> list[int]:
        return [produce(i) for i in range(4)]

    assert pipeline() == [0, 1, 2, 3]
    flush_events()
    monkeypatch.setattr(orchestration, "get_client", counting)

    @flow
    def again() -> list[int]:
        return [produce(i) for i in range(4, 8)]

    assert again() == [4, 5, 6, 7]
    flush_events()
    monkeypatch.setattr(orchestration, "get_client", real)
    assert len(built) <= 1, f"{len(built)} Prefect clients built for 4 tasks' artifacts"
    _assert_one_markdown_each(registry, 8)
