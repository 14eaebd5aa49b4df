"""Quarantine in Prefect: events per affected collection, fail-fast tasks, gated promotion."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prefect import flow

from artiflow import Artifact, QuarantinedError
from artiflow.prefect import (
    VERSION_QUARANTINED,
    VERSION_RELEASED,
    PromotionGateError,
    artifact_task,
    forward_events,
    promote,
    resource_id,
)


@artifact_task(outputs={"raw": "q-raw"})
def make_raw(raw: Artifact) -> None:
    with raw.new_file("rows.csv") as f:
        f.write("a,b\n1,2\n")


@artifact_task(inputs={"raw": "q-raw"}, outputs={"features": "q-features"})
def make_features(raw: Any, features: Artifact) -> None:
    with features.new_file("f.csv") as f:
        f.write((raw.local_path / "rows.csv").read_text().upper())


def _build() -> None:
    @flow(name="q-build")
    def build() -> None:
        make_features(wait_for=[make_raw()])

    build()


def test_quarantine_and_release_emit_one_prefect_event_per_collection(
    registry: Any, events: Any, now: Any
) -> None:
    _build()

    @flow(name="q-quarantine")
    def bad_data() -> None:
        with forward_events(registry):
            registry.quarantine("q-raw:v0", "sensor 7 sent zeros", by="ana")
            registry.release("q-raw:v0", by="ana")

    bad_data()
    raw_id = resource_id("default", "q-raw", registry=registry)
    feat_id = resource_id("default", "q-features", registry=registry)
    ours = {raw_id, feat_id}
    quarantined = events(
        VERSION_QUARANTINED, since=now, expect=2, where=lambda e: e.resource.id in ours
    )
    assert sorted(e.resource.id for e in quarantined) == sorted(ours)  # one per collection
    by_id = {e.resource.id: e.payload for e in quarantined}
    assert by_id[raw_id]["details"]["root"] == "default/q-raw:v0"
    assert by_id[raw_id]["details"]["reason"] == "sensor 7 sent zeros"
    assert by_id[feat_id]["details"]["affected"] == ["default/q-features:v0"]
    assert by_id[feat_id]["details"]["by"] == "ana"
    released = events(VERSION_RELEASED, since=now, expect=2, where=lambda e: e.resource.id in ours)
    assert sorted(e.resource.id for e in released) == sorted(ours)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_registry(request: pytest.FixtureRequest, registry: Any, monkeypatch: Any) -> Iterator[Any]:
    """The test's registry on SQLite, then on a fresh PostgreSQL database (``h_adctl_q_*`` on
    ``ARTIFLOW_TEST_POSTGRES_URL``; skipped without it, a failure under CI)."""
    if request.param == "sqlite":
        yield registry
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from artiflow.prefect.tasks import _default_registry

    url = os.environ.get("ARTIFLOW_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("ARTIFLOW_TEST_POSTGRES_URL is not set, and CI is")
        pytest.skip("set ARTIFLOW_TEST_POSTGRES_URL to run the PostgreSQL variant")
    base = make_url(url).set(drivername="postgresql+psycopg")
    name = f"h_adctl_q_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    monkeypatch.setenv("ARTIFLOW_DB_URL", base.set(database=name).render_as_string(False))
    reg = _default_registry()
    assert reg.db_url.startswith("postgresql")
    try:
        yield reg
    finally:
        reg.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_artifact_task_on_a_quarantined_input_fails_before_its_code(any_registry: Any) -> None:
    registry = any_registry
    _build()
    registry.quarantine("q-raw:v0", "duplicated rows", by="ana")
    ran: list[int] = []

    @artifact_task(inputs={"raw": "q-raw"}, outputs={"features": "q-features"})
    def rebuild(raw: Any, features: Artifact) -> None:
        ran.append(1)
        with features.new_file("f.csv") as f:
            f.write("never")

    @flow(name="q-rebuild")
    def rebuild_flow() -> None:
        rebuild()

    with pytest.raises(QuarantinedError) as info:
        rebuild_flow()
    assert info.value.root == "default/q-raw:v0" and info.value.reason == "duplicated rows"
    assert ran == []  # the user's code never ran
    assert [v.version for v in registry.versions("q-features")] == ["v0"]  # nothing committed


def test_promote_records_its_gate_as_a_check(registry: Any) -> None:
    for auc in (0.9, 0.5):
        model = Artifact("q-model", metadata={"auc": auc})
        with model.new_file("m.bin") as f:
            f.write(str(auc))
        registry.log(model)

    # the gate's check is recorded before the move: a protected alias requiring it accepts it
    registry.protect("q-model", "production", require_checks=["auc"])
    moved = promote("q-model:v0", "production", registry=registry, metric="auc", threshold=0.8)
    assert moved.version == "v0" and "production" in registry.get("q-model:v0").aliases
    (check,) = registry.get("q-model:v0").checks
    assert check.name == "auc" and check.passed is True
    assert check.details["value"] == 0.9 and check.details["threshold"] == 0.8

    with pytest.raises(PromotionGateError, match="does not pass threshold"):
        promote("q-model:v1", "production", registry=registry, metric="auc", threshold=0.8)
    (failed,) = registry.get("q-model:v1").checks
    assert failed.name == "auc" and failed.passed is False
    assert registry.get("q-model:production").version == "v0"  # nothing moved
