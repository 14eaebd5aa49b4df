"""The Registry facade: configuration, listing, projects, error messages (artiflow.registry, artiflow._ops.query).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

import pytest
from drafts import draft

from artiflow import ArtifactNotFoundError, Registry, StoreError


def test_missing_collection_and_alias_messages(registry):
    with pytest.raises(ArtifactNotFoundError, match="log it first"):
        registry.get("nope")
    registry.log(draft())
    with pytest.raises(ArtifactNotFoundError, match="alias 'production'"):
        registry.get("ds:production")
    with pytest.raises(ArtifactNotFoundError):
        registry.get("ds:v9")


def test_projects_group_collections(registry):
    registry.log(draft("team/ds"))
    registry.log(draft("ds"))
    assert {(c.project, c.name) for c in registry.collections()} == {
        ("team", "ds"),
        ("default", "ds"),
    }
    assert registry.get("team/ds").ref == "team/ds:v0"
    assert [c.project for c in registry.collections(project="team")] == ["team"]
    assert len(registry.collections(type="model")) == 0


def test_environment_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFLOW_DB_URL", f"sqlite:///{tmp_path}/custom.db")
    monkeypatch.setenv("ARTIFLOW_STORE_URL", str(tmp_path / "blobs"))
    reg = Registry()
    reg.log(draft())
    assert (tmp_path / "custom.db").exists() and (tmp_path / "blobs").is_dir()
    monkeypatch.setenv("ARTIFLOW_DB_URL", "")
    monkeypatch.setenv("ARTIFLOW_STORE_URL", "")
    monkeypatch.setenv("ARTIFLOW_HOME", str(tmp_path / "home2"))
    reg2 = Registry()
    assert reg2.db_url == f"sqlite:///{tmp_path / 'home2' / 'registry.db'}"


def test_unknown_store_backend_names_the_extra(tmp_path):
    reg = Registry(home=tmp_path, store_url="nosuchproto://bucket/x")
    with pytest.raises(StoreError, match="nosuchproto"):
        reg.log(draft())


def test_listing_filters_and_counts(registry):
    for name in ("alpha", "beta", "gamma"):
        registry.log(draft(name, description=f"{name} data"))
    assert registry.count_collections() == 3
    assert [c.name for c in registry.collections(search="a", limit=2, offset=1)] == [
        "beta",
        "gamma",
    ]
    assert registry.collections(search="alp")[0].description == "alpha data"
    registry.log(draft("alpha", files={"a.txt": "2"}), aliases=["production"])
    registry.alias("alpha:v0", "production")
    registry.alias("alpha:v1", "staging")
    moves = registry.alias_history("alpha", alias="production")
    assert [(m["version"], m["previous"]) for m in moves] == [("v0", "v1"), ("v1", None)]
    assert len(registry.alias_history("alpha", limit=1, offset=1)) == 1
    with registry.run("ok"):
        pass
    with pytest.raises(RuntimeError), registry.run("bad"):
        raise RuntimeError("x")
    assert registry.count_runs() == 2 and registry.count_runs(state="FAILED") == 1
    assert [r.name for r in registry.runs(state="FAILED")] == ["bad"]


def test_listings_are_frozen_records(registry):
    import dataclasses

    from artiflow.records import AliasEvent, Collection

    v = registry.log(draft("alpha"), aliases=["production"])
    [coll] = registry.collections()
    assert isinstance(coll, Collection) and (coll.name, coll.version_count) == ("alpha", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        coll.name = "beta"
    [event] = registry.alias_history("alpha", alias="production")
    assert isinstance(event, AliasEvent)
    assert (event.alias, event.version, event.previous) == ("production", v.version, None)
    assert event["version"] == "v0" and dict(event) == event.to_dict()
    assert event == {
        "alias": "production",
        "version": "v0",
        "previous": None,
        "at": event.at,
        "run_id": None,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.version = "v9"


def test_versions_and_runs_hold_the_registry_context(registry):
    from artiflow import ArtifactVersion, Run

    with registry.run("train") as run:
        v = run.log(draft())
    # the old constructors (a Registry and a record) keep working, and equal what the verbs give
    assert ArtifactVersion(registry, v.record) == v
    assert ArtifactVersion(registry.context, v.record) == v
    assert Run(registry, run.record) == run and Run(registry, run.record).logged_artifacts() == [v]
    with pytest.raises(TypeError, match="Registry or RegistryContext"):
        ArtifactVersion(object(), v.record)
