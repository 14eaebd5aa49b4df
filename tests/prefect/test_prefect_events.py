"""Registry events become Prefect events, stored by the test server."""

from __future__ import annotations

from typing import Any

from prefect import flow

from artiflow import Artifact, RegistryEvent
from artiflow.prefect import (
    ALIAS_MOVED,
    VERSION_CREATED,
    artifact_task,
    forward_events,
    promote,
    resource_id,
    to_prefect_event,
)


def test_mapping_of_a_registry_event() -> None:
    ev = RegistryEvent(
        "alias.moved", "team", "ds", "team/ds:v2", "v2", 2, "d1g", ["latest", "prod"], "prod", "v1"
    )
    name, resource, payload = to_prefect_event(ev, registry="reg-a")
    assert name == ALIAS_MOVED
    assert resource["prefect.resource.id"] == resource_id("team", "ds", registry="reg-a")
    assert resource["prefect.resource.id"] == "artiflow://reg-a/team/ds"
    assert resource["artiflow.registry"] == payload["registry"] == "reg-a"
    assert resource["artiflow.alias"] == "prod"
    assert payload["ref"] == "team/ds:v2" and payload["previous"] == "v1"
    removed = RegistryEvent("alias.moved", "team", "ds", None, None, None, None, [], "prod", "v2")
    assert to_prefect_event(removed)[0] == "artiflow.alias.removed"


def test_task_outputs_and_promotion_emit_events(registry: Any, events: Any, now: Any) -> None:
    @artifact_task(outputs={"out": "evented"})
    def write(out: Artifact) -> None:
        with out.new_file("a.txt") as f:
            f.write("a")

    @flow(name="evented-flow")
    def f() -> None:
        write()

    f()
    version = registry.get("evented:latest")
    promote(version.ref, "production")

    rid = resource_id("default", "evented", registry=registry)
    created = events(VERSION_CREATED, since=now, where=lambda e: e.resource.id == rid)
    assert len(created) == 1
    payload = created[0].payload
    assert payload["ref"] == version.ref and payload["version"] == "v0"
    assert payload["digest"] == version.digest and "latest" in payload["aliases"]
    related_roles = {r.role for r in created[0].related}
    assert {"flow-run", "task-run"} <= related_roles  # attached by Prefect from the run context

    moved = events(
        ALIAS_MOVED,
        since=now,
        where=lambda e: e.resource.id == rid and e.resource.get("artiflow.alias") == "production",
    )
    assert len(moved) == 1 and moved[0].payload["version"] == "v0"


def test_forward_events_blocks_share_one_subscription(registry: Any, events: Any, now: Any) -> None:
    with forward_events(registry), forward_events(registry):
        art = Artifact("nested")
        with art.new_file("n.txt") as f:
            f.write("n")
        registry.log(art)
    art = Artifact("nested")
    with art.new_file("n.txt") as f:
        f.write("outside")
    registry.log(art)  # after the blocks: not forwarded
    rid = resource_id("default", "nested", registry=registry)
    created = events(
        VERSION_CREATED, since=now, expect=2, where=lambda e: e.resource.id == rid, timeout=3
    )
    assert [e.payload["version"] for e in created] == ["v0"]
