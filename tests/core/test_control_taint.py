"""The taint a quarantine stores (``quarantine_taints``, migration 0006): resolving is answered by
it for every version that existed at the quarantine, versions logged later are walked upstream
until covered ones (two levels of late versions included), and a release removes it. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_control_pipeline import Pipeline, build_pipeline, draft, open_backend

from artiflow import QuarantinedError, Registry
from artiflow.catalog._control import quarantine_taints


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    yield from open_backend(request.param, tmp_path)


def _stored(reg: Registry) -> list[int]:
    with reg.catalog.read() as conn:
        return sorted(int(v) for (v,) in conn.execute(select(quarantine_taints.c.version_id)))


def test_the_taint_is_stored_once_and_answers_resolves(reg: Registry) -> None:
    pipe: Pipeline = build_pipeline(reg)
    reg.quarantine("raw:v3", "bad")
    a = pipe.a
    assert _stored(reg) == sorted(
        [a["features"].id, a["model"].id, a["predictions"].id, pipe.member.id]
    )
    with pytest.raises(QuarantinedError, match="raw:v3"):
        reg.get("model:production")
    with pytest.raises(QuarantinedError, match="raw:v3"):
        reg.get("model-registry/bike:production")
    assert reg.get("predictions:latest").ref == pipe.b["predictions"].ref  # v4 branch: clean
    reg.release("raw:v3")
    assert _stored(reg) == []
    assert reg.get("model:production").ref == a["model"].ref


def test_versions_logged_after_the_quarantine_are_walked(reg: Registry) -> None:
    pipe = build_pipeline(reg)
    reg.quarantine("raw:v3", "bad")
    with reg.run("late", orchestrator="manual") as run:
        run.use(pipe.a["features"].ref)  # vN of a tainted version resolves: investigating
        late = run.log(draft("late-report", "built on tainted features"))
    with reg.run("later", orchestrator="manual") as run:
        run.use(late.ref)
        run.log(draft("later-report", "two steps after the quarantine"))
    with reg.run("clean", orchestrator="manual") as run:
        run.use(pipe.b["features"].ref)
        run.log(draft("clean-report", "v4 branch"))
    with pytest.raises(QuarantinedError, match="raw:v3"):
        reg.get("later-report")
    assert reg.get("clean-report").version == "v0"
    assert reg.get("later-report:v0").tainted_by.ref == "default/raw:v3"
    with reg.catalog.read() as conn:  # nothing was added to the stored taint by resolving
        assert conn.execute(select(func.count()).select_from(quarantine_taints)).scalar() == 4
