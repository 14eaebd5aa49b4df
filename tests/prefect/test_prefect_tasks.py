"""artifact_task: injection, recorded runs, pinning, failure atomicity, caching, reporting."""

from __future__ import annotations

import inspect
import subprocess
import sys
import threading
from typing import Any

import pytest
from prefect import flow, task
from prefect.cache_policies import INPUTS, NO_CACHE

from artiflow import Artifact, Output
from artiflow.identity import registry_identity
from artiflow.prefect import (
    ArtifactInputsPolicy,
    ArtifactTask,
    artifact_task,
    asset_key,
    flush_events,
    resource_id,
    with_refs,
)


def _log(registry: Any, name: str, text: str) -> Any:
    """Log a one-file version of ``name`` outside Prefect (a manual run)."""
    art = Artifact(name, type="dataset")
    with art.new_file("data.txt") as f:
        f.write(text)
    return registry.log(art)


@artifact_task(outputs={"out": Output("numbers", aliases=("fresh",))}, retries=0, tags=["t"])
def produce(out: Artifact, n: int = 3) -> int:
    """Write ``n`` numbers."""
    with out.new_file("data.txt") as f:
        f.write("\n".join(str(i) for i in range(n)))
    return n


@artifact_task(inputs={"numbers": "numbers"}, outputs={"total": Output("total", type="result")})
def add_up(numbers: Any, total: Artifact) -> int:
    """Sum the numbers of the input version."""
    value = sum(int(x) for x in (numbers.local_path / "data.txt").read_text().split())
    with total.new_file("total.txt") as f:
        f.write(str(value))
    return value


def test_signature_and_options_are_kept() -> None:
    assert list(inspect.signature(produce.fn).parameters) == ["n"]
    assert list(inspect.signature(add_up.fn).parameters) == []
    assert produce.name == "produce"
    assert produce.fn.__doc__ == "Write ``n`` numbers."
    assert produce.tags == {"t"}
    assert produce.cache_policy is NO_CACHE
    copy = produce.with_options(name="produce-copy", retries=2)
    assert copy.retries == 2
    assert list(inspect.signature(copy.fn).parameters) == ["n"]


def test_declaration_errors_are_raised_at_decoration() -> None:
    with pytest.raises(TypeError, match="no parameter 'missing'"):

        @artifact_task(inputs={"missing": "numbers"})
        def f() -> None: ...

    with pytest.raises(ValueError, match="invalid"):

        @artifact_task(inputs={"x": "bad name:"})
        def g(x: Any) -> None: ...


def test_producer_and_consumer_runs_and_lineage(registry: Any) -> None:
    from prefect.context import get_run_context

    seen: dict[str, Any] = {}

    @task
    def ids() -> None:
        ctx = get_run_context()
        seen["flow_run_id"] = str(ctx.task_run.flow_run_id)

    @flow(name="numbers-flow")
    def numbers_flow() -> int:
        ids()
        produced = produce.submit(n=5)
        return add_up.submit(wait_for=[produced]).result()

    assert numbers_flow() == 10
    numbers = registry.get("numbers:latest")
    total = registry.get("total:latest")
    assert numbers.version == "v0" and "fresh" in numbers.aliases

    producer = numbers.logged_by()
    assert producer.orchestrator == "prefect"
    assert producer.pipeline == "numbers-flow"
    assert producer.pipeline_run == seen["flow_run_id"]
    assert producer.task == "produce"
    assert producer.try_number == 1
    assert producer.state == "SUCCESS"
    assert producer.info["task_run_id"]

    consumer = total.logged_by()
    assert consumer.task == "add_up"
    assert consumer.pipeline_run == seen["flow_run_id"]
    assert [r.id for r in numbers.used_by()] == [consumer.id]
    assert [v.ref for v in consumer.used_artifacts()] == [numbers.ref]

    graph = registry.lineage("total:latest", direction="upstream")
    runs = graph.runs()
    assert len(runs) == 2
    text = str(graph.to_dict())
    assert producer.id in text and consumer.id in text


def test_task_outside_a_flow_records_a_run_without_flow(registry: Any) -> None:
    assert produce(n=2) == 2
    run = registry.get("numbers:latest").logged_by()
    assert run.orchestrator == "prefect" and run.pipeline is None and run.pipeline_run is None


def test_failure_commits_nothing_and_retry_is_a_new_try(registry: Any) -> None:
    attempts: list[int] = []

    @artifact_task(outputs={"out": "flaky"}, retries=1, retry_delay_seconds=0)
    def flaky(out: Artifact) -> None:
        attempts.append(1)
        with out.new_file("data.txt") as f:
            f.write(f"attempt {len(attempts)}")
        if len(attempts) == 1:
            raise RuntimeError("first try fails after writing its draft")

    @flow
    def flaky_flow() -> None:
        flaky()

    flaky_flow()
    versions = registry.versions("flaky")
    assert [v.version for v in versions] == ["v0"]
    assert (versions[0].download(root="dl") / "data.txt").read_text() == "attempt 2"
    run = versions[0].logged_by()
    assert run.try_number == 2 and run.state == "SUCCESS"


def test_failed_task_commits_no_output(registry: Any) -> None:
    @artifact_task(outputs={"a": "first", "b": "second"})
    def half_done(a: Artifact, b: Artifact) -> None:
        with a.new_file("x.txt") as f:
            f.write("x")
        raise ValueError("boom")

    @artifact_task(outputs={"a": "first", "b": "second"})
    def one_empty(a: Artifact, b: Artifact) -> None:
        with a.new_file("x.txt") as f:
            f.write("x")

    @flow
    def failing_flow() -> None:
        half_done()

    @flow
    def empty_flow() -> None:
        one_empty()

    assert failing_flow(return_state=True).is_failed()
    assert empty_flow(return_state=True).is_failed()
    assert not _exists(registry, "first")
    assert not _exists(registry, "second")


def test_outputs_commit_together_or_not_at_all(registry: Any) -> None:
    seed = Artifact("together-b", type="dataset")
    with seed.new_file("seed.txt") as f:
        f.write("a dataset")
    registry.log(seed)

    @artifact_task(outputs={"a": "together-a", "b": Output("together-b", type="model")})
    def two_outputs(a: Artifact, b: Artifact) -> None:
        for draft in (a, b):
            with draft.new_file("x.txt") as f:
                f.write("x")

    @flow
    def together_flow() -> None:
        two_outputs()

    # together-b holds datasets: committing b fails, so a (same commit) must not appear either
    assert together_flow(return_state=True).is_failed()
    assert not _exists(registry, "together-a")
    assert [v.version for v in registry.versions("together-b")] == ["v0"]


def _exists(registry: Any, name: str) -> bool:
    try:
        return bool(registry.versions(name))
    except LookupError:
        return False


def test_same_run_pinning_against_a_concurrent_writer(registry: Any, tmp_path: Any) -> None:
    """A newer version logged by another process between producer and consumer is not used."""
    home = registry.settings.home if hasattr(registry, "settings") else None
    script = (
        "from artiflow import Artifact, Registry\n"
        "art = Artifact('numbers')\n"
        "with art.new_file('data.txt') as f: f.write('100 200')\n"
        "print(Registry().log(art).ref)\n"
    )

    @task
    def concurrent_writer() -> str:
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    @flow
    def pinned_flow() -> tuple[int, str]:
        produced = produce.submit(n=4)
        other = concurrent_writer.submit(wait_for=[produced]).result()
        return add_up.submit(wait_for=[produced]).result(), other

    total, other_ref = pinned_flow()
    assert home is None or home.exists()
    assert total == 6  # 0+1+2+3 from this run's version, not 300 from the concurrent one
    assert registry.get("numbers:latest").ref == other_ref  # the newer version is latest
    consumer = registry.get("total:latest").logged_by()
    assert [v.version for v in consumer.used_artifacts()] == ["v0"]

    # a flow run that did not produce `numbers` reads the global latest
    @flow
    def reader() -> int:
        return add_up()

    assert reader() == 300


def test_explicit_selector_is_not_pinned(registry: Any) -> None:
    _log(registry, "numbers", "1 2")  # v0

    @artifact_task(inputs={"numbers": "numbers:v0"})
    def read_v0(numbers: Any) -> str:
        return numbers.version

    @flow
    def f() -> str:
        produce(n=10)  # v1, in this flow run
        return read_v0()

    assert f() == "v0"


def test_with_refs_overrides_an_input(registry: Any) -> None:
    first = _log(registry, "numbers", "1 2")
    _log(registry, "numbers", "5 5")

    @flow
    def f() -> int:
        return with_refs(add_up, numbers=first.ref)()

    assert f() == 3


def test_async_artifact_task(registry: Any) -> None:
    @artifact_task(outputs={"out": "async-out"})
    async def write(out: Artifact, text: str) -> str:
        with out.new_file("t.txt") as f:
            f.write(text)
        return text

    @flow
    async def f() -> str:
        return await write("hello")

    import asyncio

    assert asyncio.run(f()) == "hello"
    assert registry.get("async-out:latest").logged_by().task == "write"


@pytest.mark.parametrize("how", ["declared", "with_options"])
def test_opted_in_cache_never_skips_silently(registry: Any, how: str) -> None:
    calls: list[str] = []

    def count(numbers: Any, c: Artifact, label: str) -> int:
        calls.append(numbers.version)
        with c.new_file("n.txt") as f:
            f.write(str(numbers.size))
        return numbers.size

    declared = {"inputs": {"numbers": "numbers"}, "outputs": {"c": "counted"}}
    if how == "declared":
        counting = artifact_task(count, cache_policy=INPUTS, **declared)
    else:  # caching turned on later gets the same protection
        counting = artifact_task(count, **declared).with_options(cache_policy=INPUTS)
    assert isinstance(counting, ArtifactTask)
    assert any(isinstance(p, ArtifactInputsPolicy) for p in counting.cache_policy.policies)

    @flow
    def f() -> int:
        return counting(f"label-{how}")  # distinct keys: the result store is session-wide

    _log(registry, "numbers", "1 2 3")
    f()
    f()  # same parameters and same input version: restored from the cache
    assert calls == ["v0"]
    assert [v.version for v in registry.versions("counted")] == ["v0"]
    numbers = registry.get("numbers:v0")
    runs = numbers.used_by()
    assert len(runs) == 2
    assert [bool(r.info.get("cached")) for r in runs] == [False, True]
    assert runs[1].logged_artifacts() == []

    _log(registry, "numbers", "4 5 6 7")  # a new input version is a cache miss
    f()
    assert calls == ["v0", "v1"]
    assert [v.version for v in registry.versions("counted")] == ["v0", "v1"]


def test_markdown_artifact_and_assets(registry: Any, events: Any, now: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterTaskRunId

    @flow
    def f() -> None:
        produced = produce.submit(n=2)
        add_up.submit(wait_for=[produced]).result()

    f()
    flush_events()  # the markdown artifact is posted in the background
    version = registry.get("numbers:latest")
    task_run_id = version.logged_by().info["task_run_id"]
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(task_run_id=ArtifactFilterTaskRunId(any_=[task_run_id]))
        )
    assert len(arts) == 1 and arts[0].type == "markdown"
    assert version.ref in arts[0].data and version.digest[:12] in arts[0].data
    assert "| produced | `out` |" in arts[0].data

    mats = events(
        "prefect.asset.materialization.succeeded",
        since=now,
        expect=2,
        where=lambda e: e.resource.id.startswith("artiflow://"),
    )
    by_key = {e.resource.id: e for e in mats}
    numbers_key = asset_key("default", "numbers", registry=registry)
    assert numbers_key == f"artiflow://{registry_identity(registry)}/default/numbers"
    numbers = by_key[numbers_key]
    assert numbers.payload["artiflow.version"] == version.version
    assert numbers.payload["artiflow.digest"] == version.digest
    total = by_key[asset_key("default", "total", registry=registry)]
    assert numbers_key in {r.id for r in total.related}


def test_concurrent_task_runs_emit_each_event_once(registry: Any, events: Any, now: Any) -> None:
    @flow
    def f() -> None:
        futures = [produce.with_options(name=f"p{i}").submit(n=i + 2) for i in range(3)]
        for fut in futures:
            fut.result()

    f()
    rid = resource_id("default", "numbers", registry=registry)
    created = events(
        "artiflow.version.created",
        since=now,
        expect=3,
        where=lambda e: e.resource.id == rid,
        timeout=10,
    )
    assert sorted(e.payload["version"] for e in created) == ["v0", "v1", "v2"]
    threading.Event().wait(1.0)  # late duplicates would have arrived by now
    again = events(
        "artiflow.version.created",
        since=now,
        expect=4,
        where=lambda e: e.resource.id == rid,
        timeout=1,
    )
    assert len(again) == 3


_CRASHING_FLOW = """
import os
from prefect import flow
from artiflow.prefect import artifact_task

@artifact_task(outputs={"out": "crashed"})
def crash(out):
    with out.new_file("data.txt") as f:
        f.write("half written")
    os._exit(17)          # the process dies inside the task: no exception, no cleanup

@flow(name="crashing-flow")
def crashing_flow():
    crash()

crashing_flow()
"""


def test_crashed_process_commits_nothing(registry: Any, prefect_server: str) -> None:
    import os

    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_FLOW], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 17, proc.stderr[-2000:]
    with pytest.raises(LookupError):
        registry.versions("crashed") or registry.get("crashed:latest")
    (run,) = registry.runs(orchestrator="prefect", pipeline="crashing-flow")
    assert run.task == "crash" and run.state == "RUNNING"  # started, never finished
    assert run.logged_artifacts() == []


def test_concurrent_flow_runs_each_read_their_own_version(registry: Any) -> None:
    """Two flow runs at once, each producing then consuming `numbers`: no cross-talk."""
    import time as _time

    @task
    def pause() -> None:
        _time.sleep(0.5)  # let the other flow run log its version in between

    @flow
    def own(n: int) -> int:
        produced = produce.submit(n=n)
        paused = pause.submit(wait_for=[produced])
        return add_up.submit(wait_for=[paused]).result()

    results: dict[int, int] = {}

    def run(n: int) -> None:
        results[n] = own(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in (4, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {4: 6, 6: 15}  # sum(range(4)), sum(range(6))
    assert len(registry.versions("numbers")) == 2


@artifact_task(inputs={"numbers": "numbers"}, outputs={"total": Output("total", type="result")})
def add_up_after(numbers: Any, total: Artifact, after: int) -> int:
    """``add_up``, receiving an upstream result as a parameter."""
    value = sum(int(x) for x in (numbers.local_path / "data.txt").read_text().split())
    with total.new_file("total.txt") as f:
        f.write(str(value))
    return value


@artifact_task()
def relay() -> None:
    """An artifact task that produces nothing: a hop between producer and consumer."""


def test_consumer_is_pinned_to_the_producer_it_waited_for(registry: Any) -> None:
    """Two producers of one collection in one flow run: each consumer gets the version of the
    producer it waited for (or received, or reached through another artifact task), never the
    newest version of the flow run."""

    @flow
    def two_producers() -> dict[str, int]:
        a = produce.submit(n=3)  # v0: 0+1+2 = 3
        b = produce.with_options(name="produce-b").submit(n=5, wait_for=[a])  # v1: 10
        b.wait()
        hop = relay.submit(wait_for=[a])
        hop.wait()
        return {
            "wait_for_a": add_up.submit(wait_for=[a]).result(),
            "received_a": add_up_after.submit(after=a).result(),
            "via_relay": add_up.submit(wait_for=[hop]).result(),
            "wait_for_b": add_up.submit(wait_for=[b]).result(),
            "no_edge": add_up.submit().result(),
        }

    totals = two_producers()
    assert [v.version for v in registry.versions("numbers")] == ["v0", "v1"]
    assert totals == {
        "wait_for_a": 3,
        "received_a": 3,
        "via_relay": 3,
        "wait_for_b": 10,
        "no_edge": 10,  # no edge to a producer: the newest version of this flow run
    }
    consumers = {
        r.info["task_run_id"]: [v.version for v in r.used_artifacts()]
        for r in registry.runs(orchestrator="prefect", pipeline="two-producers", limit=None)
        if r.task in ("add_up", "add_up_after")
    }
    assert sorted(consumers.values()) == [["v0"], ["v0"], ["v0"], ["v1"], ["v1"]]


def test_markdown_artifact_posted_after_the_flow_run_ended(registry: Any) -> None:
    """The background post may run after the flow run closed its client: it still lands."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterTaskRunId

    from artiflow.prefect.tasks import _reporter

    gate = threading.Event()
    _reporter().submit(gate.wait, 30)  # hold the reporter until the flow run is over

    @flow
    def quick() -> None:
        produce(n=1)

    quick()
    gate.set()
    flush_events()
    task_run_id = registry.get("numbers:latest").logged_by().info["task_run_id"]
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(task_run_id=ArtifactFilterTaskRunId(any_=[task_run_id]))
        )
    assert [a.type for a in arts] == ["markdown"]
