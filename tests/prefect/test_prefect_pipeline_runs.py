"""A Prefect flow run as one pipeline run, with real flow runs on the session's test server:
subflows share the root's run lock, a trigger event pins its version, replay reads the earlier
run's lock, a flow retry assembles a new collaborative version, runs carry names and hosts."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from prefect import flow, task

from artiflow import Artifact, ArtiflowError, RegistryEvent
from artiflow.identity import registry_identity
from artiflow.prefect import (
    ForeignTriggerError,
    artifact_task,
    commit_parts,
    replay,
    to_prefect_event,
)


def _log(registry: Any, name: str, text: str, *aliases: str) -> Any:
    art = Artifact(name, type="dataset")
    with art.new_file("data.txt") as f:
        f.write(text)
    return registry.log(art, aliases=aliases)


@artifact_task(inputs={"ds": "ds:production"})
def read_ds(ds: Any) -> str:
    """Return the version of ``ds:production`` this task resolved."""
    return str(ds.version)


@task
def move_production(to: str) -> None:
    """Move ``ds:production`` in the middle of the flow run (what a concurrent run does)."""
    from artiflow.prefect.tasks import _default_registry

    _default_registry().alias(f"ds:{to}", "production")


@flow(name="grandchild")
def grandchild() -> str:
    return read_ds()


@flow(name="child")
def child() -> dict[str, str]:
    return {"child": read_ds(), "grandchild": grandchild()}


@flow(name="parent-flow")
def parent() -> dict[str, str]:
    first = read_ds()
    move_production("v1")
    return {"parent": first, **child(), "parent_again": read_ds()}


def test_subflows_share_the_root_flow_runs_lock(registry: Any) -> None:
    _log(registry, "ds", "zero", "production")
    _log(registry, "ds", "one")
    seen = parent()
    # the alias moved to v1 after the parent's first read: every read of the pipeline run,
    # in the subflow and the subflow's subflow too, returns the version locked first
    assert seen == {"parent": "v0", "child": "v0", "grandchild": "v0", "parent_again": "v0"}
    assert registry.get("ds:production").version == "v1"
    runs = registry.runs(orchestrator="prefect", limit=None)
    root = next(r for r in runs if r.pipeline == "parent-flow").pipeline_run
    subs = [r for r in runs if r.pipeline in ("child", "grandchild")]
    assert len(subs) == 2 and all(r.info["root_flow_run"] == root for r in subs)
    assert all(r.pipeline_run != root for r in subs)  # each records its own flow run
    lock = registry.run_lock("prefect", root)
    assert lock.version_of("default/ds:production") == "default/ds:v0"
    # a new root flow run has its own lock: it reads where the alias is now
    assert child() == {"child": "v1", "grandchild": "v1"}


@artifact_task(outputs={"part": "shards"}, collaborative=True)
def shard(i: int, part: Artifact) -> int:
    """Write one part; part 2 fails in the first attempt of the flow run."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    attempt = ctx.flow_run.run_count if ctx is not None and ctx.flow_run else 1
    if i == 2 and attempt == 1:
        raise RuntimeError("part 2 fails in attempt 1")
    with part.new_file(f"part-{i}.txt") as f:
        f.write(f"part {i} of attempt {attempt}")
    return i


@artifact_task(inputs={"shards": "shards"})
def count_parts(shards: Any) -> list[str]:
    return sorted(p.name for p in shards.local_path.iterdir())


@flow(name="sharded", retries=1, retry_delay_seconds=0)
def sharded() -> dict[str, Any]:
    parts = shard.map(range(4))
    committed = commit_parts(shard, wait_for=parts)
    return {"committed": committed.result(), "files": count_parts(wait_for=[committed])}


@flow(name="sharded-then-fails", retries=1, retry_delay_seconds=0)
def sharded_then_fails() -> dict[str, Any]:
    from prefect.context import FlowRunContext

    parts = shard.map(range(2))  # parts 0, 1: never fail
    committed = commit_parts(shard, wait_for=parts).result()
    ctx = FlowRunContext.get()
    if ctx is not None and ctx.flow_run and ctx.flow_run.run_count == 1:
        raise RuntimeError("the flow fails after the commit in attempt 1")
    return {"committed": committed, "files": count_parts()}


def test_flow_retry_assembles_a_new_collaborative_version(registry: Any) -> None:
    result = sharded()
    # attempt 1's three good parts were never committed: ONE version, all parts of attempt 2
    versions = registry.versions("shards")
    assert [v.version for v in versions] == ["v0"]
    assert result == {
        "committed": {"part": "default/shards:v0"},
        "files": [f"part-{i}.txt" for i in range(4)],
    }
    v0 = versions[0]
    texts = {p.read_text() for p in v0.download().rglob("part-*.txt")}
    assert texts == {f"part {i} of attempt 2" for i in range(4)}
    committer = v0.logged_by()
    assert committer.task == "commit-shard" and committer.info["flow_run_attempt"] == 2
    parts = [r for r in registry.runs(pipeline="sharded", limit=None) if r.task == "shard"]
    by_attempt = {
        n: sorted(r.state for r in parts if r.info["flow_run_attempt"] == n) for n in (1, 2)
    }
    assert by_attempt[2] == ["SUCCESS"] * 4  # attempt 2: every part, all in v0
    # attempt 1: the failed part, and the good parts Prefect started before the flow failed
    # (when part 2 fails first, Prefect may end attempt 1 before the last part starts)
    assert by_attempt[1].count("FAILED") == 1 and len(by_attempt[1]) <= 4, by_attempt
    assert set(by_attempt[1]) <= {"SUCCESS", "FAILED"}, by_attempt


def test_flow_retry_after_a_commit_makes_a_new_version_its_consumer_reads(registry: Any) -> None:
    result = sharded_then_fails()
    # attempt 1 committed v0 before failing; attempt 2 did not add to it (no
    # ArtifactFinalizedError): it assembled v1, and its consumer read v1
    assert [v.version for v in registry.versions("shards")] == ["v0", "v1"]
    assert result["committed"] == {"part": "default/shards:v1"}
    consumer = next(
        r for r in registry.runs(pipeline="sharded-then-fails") if r.task == "count_parts"
    )
    assert [v.version for v in consumer.used_artifacts()] == ["v1"]


@artifact_task(inputs={"ds": "ds:production"})
def read_again(ds: Any) -> str:
    return str(ds.version)


@flow(name="triggered")
def triggered(artiflow: dict[str, Any] | None = None) -> dict[str, str]:
    first = read_ds()
    move_production("v2")
    return {"first": first, "second": read_again(), "latest": read_latest()}


@artifact_task(inputs={"ds": "ds"})
def read_latest(ds: Any) -> str:
    return str(ds.version)


def test_trigger_event_pins_every_read_of_its_collection(registry: Any) -> None:
    for text in ("zero", "one", "two"):
        _log(registry, "ds", text)
    registry.alias("ds:v1", "production")
    event = {"registry": registry_identity(registry), "ref": "default/ds:v0", "event_id": "e1"}
    assert triggered(artiflow=event) == {"first": "v0", "second": "v0", "latest": "v0"}
    run = next(r for r in registry.runs(pipeline="triggered") if r.task == "read_latest")
    assert run.info["trigger_pins"] == {"default/ds": "default/ds:v0"}
    assert run.info["trigger_event"] == "e1"


def test_an_event_of_another_registry_is_refused(registry: Any) -> None:
    _log(registry, "ds", "zero", "production")
    event = {"registry": "someone-else", "ref": "default/ds:v0", "event_id": "e2"}
    state = triggered(artiflow=event, return_state=True)
    assert state.is_failed()
    with pytest.raises(ForeignTriggerError, match="someone-else"):
        state.result()
    assert not [r for r in registry.runs(pipeline="triggered") if r.task == "read_ds"]


@artifact_task(inputs={"ds": "ds:production"}, outputs={"out": "ds-copy"})
def copy_ds(ds: Any, out: Artifact) -> str:
    out.add_dir(ds.local_path)
    return str(ds.version)


@flow(name="replayable")
def replayable(artiflow: dict[str, Any] | None = None) -> str:
    return copy_ds()


def test_replay_reads_the_earlier_runs_lock(registry: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_engine import run_flow

    _log(registry, "ds", "zero", "production")
    deployment: Any = replayable.to_deployment(name="replayable")  # sync here, not a coroutine
    deployment_id: Any = deployment.apply()
    try:
        first: Any = run_deployment(deployment_id, timeout=0, as_subflow=False)
        assert run_flow(replayable, flow_run=first, parameters=first.parameters) == "v0"
        _log(registry, "ds", "one", "production")  # the alias moved, a newer version exists

        again: Any = replay(first.id)
        assert again.parameters["artiflow"] == {"replay_of": str(first.id), "flow": "replayable"}
        assert "artiflow-replay" in again.tags
        assert run_flow(replayable, flow_run=again, parameters=again.parameters) == "v0"
        reader = next(r for r in registry.runs(pipeline_run=str(again.id)) if r.task == "copy_ds")
        assert reader.info["replay_of"] == str(first.id)
        lock = registry.run_lock("prefect", str(again.id))
        assert lock.replay_of == str(first.id)
        assert [(o.collection, o.reproduced) for o in lock.replays] == [("default/ds-copy", True)]
        fresh: Any = run_deployment(deployment_id, timeout=0)
        assert run_flow(replayable, flow_run=fresh) == "v1"
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


@artifact_task(outputs={"out": "named"})
def write_named(out: Artifact, day: str) -> None:
    with out.new_file("x.txt") as f:
        f.write(day)


def test_runs_carry_the_flow_run_name_and_the_worker(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    @flow(name="named-flow", flow_run_name="nightly-{day}")
    def named(day: str) -> None:
        write_named(day=day)

    named(day="2026-12-03")
    run = registry.get("named:latest").logged_by()
    assert run.name.startswith("nightly-2026-12-03/write_named")
    assert run.info["flow_run_name"] == "nightly-2026-12-03"
    assert run.host == socket.gethostname() and "worker" not in run.info

    monkeypatch.setenv("PREFECT__WORKER_NAME", "worker-7")  # what a Prefect worker sets
    named(day="2026-12-04")
    run = registry.get("named:latest").logged_by()
    assert run.host == "worker-7" and run.info["worker"] == "worker-7"


def test_every_registry_event_kind_maps_to_an_artiflow_event() -> None:
    ev = RegistryEvent("version.quarantined", "team", "ds", "team/ds:v3", "v3", 3, "abc", [])
    name, resource, payload = to_prefect_event(ev, registry="prod")
    assert name == "artiflow.version.quarantined"
    assert resource["prefect.resource.id"] == "artiflow://prod/team/ds"
    assert resource["artiflow.registry"] == "prod"
    assert payload["ref"] == "team/ds:v3" and payload["registry"] == "prod"
    with pytest.raises(ValueError, match="unknown registry event kind"):
        to_prefect_event(RegistryEvent("Bad Kind", "p", "n", None, None, None, None), "prod")


@artifact_task(outputs={"part": "mapped-parts"}, collaborative=True)
def mapped_part(i: int, part: Artifact) -> int:
    with part.new_file(f"part-{i}.txt") as f:
        f.write(f"part {i}")
    return i


@artifact_task(outputs={"out": "mapped-single"})
def mapped_single(word: str, out: Artifact) -> str:
    with out.new_file("word.txt") as f:
        f.write(word)
    return word


@flow(name="mapped-flow", flow_run_name="mapped-{day}")
def mapped_flow(day: str) -> dict[str, Any]:
    mapped_single("before")  # a plain call first: the map's indices still start at 0
    parts = mapped_part.map([10, 11, 12])
    committed = commit_parts(mapped_part, wait_for=parts).result()
    words = mapped_single.map(["a", "b"], return_state=True)
    return {"committed": committed, "words": [s.result() for s in words]}


def test_mapped_task_runs_record_their_map_index(registry: Any, tmp_path: Any) -> None:
    """``task.map(...)`` tags each task run with its position; the registry run records it as
    ``map_index`` (as Airflow's mapped instances do), and lineage, the run label and the run
    name show it. A plain call or the commit task has none."""
    from prefect.client.orchestration import get_client

    out = mapped_flow(day="2026-12-03")
    assert out["words"] == ["a", "b"]
    runs = registry.runs(orchestrator="prefect", pipeline="mapped-flow", limit=None)
    parts = [r for r in runs if r.task == "mapped_part"]
    assert sorted(str(r.map_index) for r in parts) == ["0", "1", "2"]
    with get_client(sync_client=True) as client:  # the index is the map position, not a count
        for run in parts:
            task_run = client.read_task_run(run.info["task_run_id"])
            assert f"artiflow-map-index:{run.map_index}" in task_run.tags
    for run in parts:
        written = registry.get("mapped-parts:v0").manifest.entries
        assert f"part-{10 + run.map_index}.txt" in written
        assert run.name.startswith("mapped-2026-12-03/mapped_part-")
        assert run.name.endswith(f"[{run.map_index}]")
        assert f"map {run.map_index}" in run.label
    singles = [r for r in runs if r.task == "mapped_single"]
    assert sorted((r.map_index is None, r.map_index) for r in singles) == [
        (False, 0),
        (False, 1),
        (True, None),
    ]
    (commit,) = [r for r in runs if r.task == "commit-mapped_part"]
    assert commit.map_index is None and ", map " not in commit.label
    words = {
        v.download(tmp_path / v.version).joinpath("word.txt").read_text(): v.logged_by().map_index
        for v in registry.versions("mapped-single")
    }
    assert words == {"before": None, "a": 0, "b": 1}
    b = next(v for v in registry.versions("mapped-single") if v.logged_by().map_index == 1)
    graph = registry.lineage(b.ref, direction="upstream").to_dict()
    (producer,) = [n for n in graph["nodes"] if n["kind"] == "run"]
    assert producer["map_index"] == 1 and ", map 1]" in producer["label"]


@artifact_task(outputs={"out": "pooled"})
def pooled(i: int, out: Artifact) -> int:
    with out.new_file("i.txt") as f:
        f.write(str(i))
    return i


def test_map_index_in_a_process_pool(registry: Any) -> None:
    """``ProcessPoolTaskRunner`` serializes the flow's context once and reuses it: each mapped
    task run still gets its own index, and a later plain submit none (not a stale index)."""
    from prefect.task_runners import ProcessPoolTaskRunner

    @flow(name="pooled-flow", task_runner=ProcessPoolTaskRunner(max_workers=2))
    def pooled_flow() -> list[int]:
        out = [f.result() for f in pooled.map([5, 6, 7])]
        return [*out, pooled.submit(8).result()]

    assert pooled_flow() == [5, 6, 7, 8]
    runs = registry.runs(orchestrator="prefect", pipeline="pooled-flow", limit=None)
    by_value = {r.logged_artifacts()[0].download().joinpath("i.txt").read_text(): r for r in runs}
    assert {v: r.map_index for v, r in by_value.items()} == {"5": 0, "6": 1, "7": 2, "8": None}


def test_a_replay_with_a_replaced_input_names_the_real_deployment(
    registry: Any, prefect_server: str
) -> None:
    """``start_replay(..., inputs=...)`` of a Prefect flow run prints ``prefect deployment run``
    with the deployment the run came from (read from the Prefect API) and its parameters;
    without the API the Python call that finds it; ``artiflow.prefect.replay(id, lock=...)``
    runs the derived lock; a flow run from no deployment gets a command that asks for one."""
    import shlex

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_engine import run_flow

    from artiflow._ops.replay import start_replay

    _log(registry, "ds", "zero", "production")
    deployment: Any = replayable.to_deployment(name="nightly-copy")
    deployment_id: Any = deployment.apply()
    env = {"PREFECT_API_URL": prefect_server}
    try:
        first: Any = run_deployment(deployment_id, timeout=0, as_subflow=False)
        assert run_flow(replayable, flow_run=first, parameters=first.parameters) == "v0"
        _log(registry, "ds", "one")  # the clean replacement

        got = start_replay(registry, "prefect", str(first.id), inputs={"ds": "ds:v1"}, env=env)
        assert got.deployment == "replayable/nightly-copy" and got.lock is not None
        words = shlex.split(got.command)
        assert words[:4] == ["prefect", "deployment", "run", "replayable/nightly-copy"]
        assert "<deployment>" not in got.command
        params = json.loads(words[words.index("--params") + 1])
        assert params == {"artiflow": {"replay_of": got.lock, "flow": "replayable"}}

        # no API from here: the call that finds the deployment when it runs, and it works
        offline = start_replay(registry, "prefect", str(first.id), inputs={"ds": "ds:v1"}, env={})
        assert offline.lock == got.lock and offline.deployment is None
        assert f"artiflow.prefect.replay({json.dumps(str(first.id))}, lock=" in offline.command
        again: Any = replay(first.id, lock=got.lock)
        assert again.deployment_id == deployment_id
        assert run_flow(replayable, flow_run=again, parameters=again.parameters) == "v1"
        with pytest.raises(ArtiflowError, match="not a derived lock"):
            replay(first.id, lock="something-else")

        # a flow run that came from no deployment: the command asks for one
        direct = replayable(return_state=True)
        run_id = str(direct.state_details.flow_run_id)
        bare = start_replay(registry, "prefect", run_id, inputs={"ds": "ds:v1"}, env=env)
        assert bare.deployment is None
        assert '"replayable/${DEPLOYMENT:?set DEPLOYMENT to the name of a deployment' in (
            bare.command
        )
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
