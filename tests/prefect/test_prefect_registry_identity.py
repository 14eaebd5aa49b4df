"""Two registries on one Prefect server: their events carry different identities, and a
trigger made for one registry never matches the other's events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artiflow import Artifact, Registry
from artiflow.identity import registry_identity
from artiflow.prefect import (
    ALIAS_MOVED,
    VERSION_CREATED,
    alias_moved_trigger,
    forward_events,
    resource_id,
    version_created_trigger,
)


def _log_and_promote(reg: Registry, text: str) -> None:
    with forward_events(reg):
        art = Artifact("shared-ds")
        with art.new_file("d.txt") as f:
            f.write(text)
        version = reg.log(art)
        reg.alias(version.ref, "production")


def _matches(trigger: Any, event: Any) -> bool:
    """What the server's automation does with a reactive trigger: event name and resource."""
    return event.event in trigger.expect and trigger.match.matches(event.resource)


def test_two_registries_never_trigger_each_other(
    prefect_server: str,
    tmp_path: Path,
    events: Any,
    now: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # no configured name: each registry's identity derives from its own database
    monkeypatch.delenv("ARTIFLOW_REGISTRY_NAME", raising=False)
    reg_a = Registry(home=tmp_path / "a")
    reg_b = Registry(home=tmp_path / "b")
    ident_a, ident_b = registry_identity(reg_a), registry_identity(reg_b)
    assert ident_a != ident_b
    _log_and_promote(reg_a, "a")
    _log_and_promote(reg_b, "b")

    ids = {resource_id("default", "shared-ds", registry=r) for r in (reg_a, reg_b)}
    seen = events(
        "artiflow.",
        since=now,
        expect=4,
        where=lambda e: e.resource.id in ids,
    )
    assert sorted(e.event for e in seen) == sorted([VERSION_CREATED, ALIAS_MOVED] * 2)
    by_registry = {ident_a: [], ident_b: []}
    for e in seen:
        assert e.resource["artiflow.registry"] == e.payload["registry"]
        assert e.resource.id == f"artiflow://{e.payload['registry']}/default/shared-ds"
        by_registry[e.resource["artiflow.registry"]].append(e)
    assert [len(v) for v in by_registry.values()] == [2, 2]

    for reg, own, other in ((reg_a, ident_a, ident_b), (reg_b, ident_b, ident_a)):
        for trigger in (
            version_created_trigger("shared-ds", registry=reg),
            alias_moved_trigger("shared-ds", "production", registry=reg),
        ):
            hits = [e for e in seen if _matches(trigger, e)]
            assert len(hits) == 1, (own, trigger.expect)
            assert hits[0].resource["artiflow.registry"] == own
            assert not any(_matches(trigger, e) for e in by_registry[other])
