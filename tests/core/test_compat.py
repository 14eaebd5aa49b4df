"""Every W&B, Comet and DVCLive call of docs/migrating.md, run against artiflow (artiflow.version,
artiflow.artifact, artiflow.manifest, artiflow.helpers).

Real SQLite and PostgreSQL (``ARTIFLOW_TEST_POSTGRES_URL``) with a real local store; a
``file://`` folder stands in for remote storage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from drafts import draft

import artiflow
from artiflow import (
    Artifact,
    ArtifactNotFoundError,
    ArtifactVersion,
    Entry,
    InvalidFieldError,
    InvalidRefError,
    Ref,
    Registry,
)


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """A registry on SQLite or PostgreSQL (the names, labels and entries live in the database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    with Registry(db_url=url, store_url=str(tmp_path / "store")) as registry:
        yield registry


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "images").mkdir(parents=True)
    (root / "model.pkl").write_text("weights")
    (root / "images" / "a.png").write_text("A")
    (root / "images" / "b.png").write_text("B")
    (root / "remote").mkdir()
    (root / "remote" / "part-0.csv").write_text("x,y\n")
    (root / "remote" / "part-1.csv").write_text("x,y\n1,2\n")
    return root


# ---- W&B ------------------------------------------------------------------------------------
def test_wandb_draft_calls(files: Path, reg: Registry) -> None:
    art = Artifact("churn-model", type="model", description="gbm", metadata={"auc": 0.91})
    assert art.is_draft() and art.entity is None
    art.add_file(files / "model.pkl")
    art.add_dir(files / "images", name="images")
    art.add_reference(f"file://{files / 'remote'}", name="remote")
    with art.new_file("README.txt") as f:
        f.write("hi")
    art.remove("README.txt")
    assert art.get_entry("model.pkl") == art["model.pkl"] == art.get("model.pkl")
    with pytest.raises(ArtifactNotFoundError, match="log"):
        art.wait()
    with pytest.raises(ArtifactNotFoundError, match="no entry 'nope'"):
        art.get_entry("nope")
    v = reg.log(art, aliases=["candidate"], tags=["nightly"])
    assert not art.is_draft() and art.entity == "default"
    assert art.wait() == v and v.wait() is v
    assert sorted(e.path for e in v.files()) == [
        "images/a.png",
        "images/b.png",
        "model.pkl",
        "remote/part-0.csv",
        "remote/part-1.csv",
    ]


def test_wandb_version_calls(files: Path, reg: Registry, tmp_path: Path) -> None:
    art = Artifact("churn-model", type="model", metadata={"auc": 0.91})
    art.add_file(files / "model.pkl")
    v = reg.log(art, aliases=["candidate"])
    got = reg.get("default/churn-model:candidate")  # api.artifact("entity/project/name:alias")
    assert got == v and not got.is_draft()
    assert (got.version, got.collection_name, got.entity, got.ref) == (
        "v0",
        "churn-model",
        "default",
        "default/churn-model:v0",
    )
    assert got.source_version == "v0" and got.source_name == "churn-model:v0"
    assert got.commit_hash == got.digest and len(got.commit_hash) == 64
    assert (got.type, got.metadata, got.size, got.state) == ("model", {"auc": 0.91}, 7, "COMMITTED")
    entry = got.get_entry("model.pkl")
    assert entry is not None and got["model.pkl"] == entry == got.get("model.pkl")
    assert entry.digest is not None and entry.size == 7
    with pytest.raises(ArtifactNotFoundError, match="no entry"):
        got["missing.txt"]
    encoded = got.json_encode()
    assert encoded["_type"] == "artifactVersion" and encoded["ref"] == got.ref
    json.dumps(encoded)  # JSON-ready
    assert (got.download(tmp_path / "dl") / "model.pkl").read_text() == "weights"
    assert got.file(tmp_path / "one").read_text() == "weights"
    got.verify(tmp_path / "dl")
    # updated_at: the commit, then every alias move onto or off the version
    before = got.updated_at
    assert before >= got.created_at
    reg.alias("churn-model:v0", "production")
    moved = reg.get("churn-model:v0").updated_at
    assert moved > before
    assert isinstance(moved, dt.datetime) and moved.tzinfo is not None


def test_wandb_link_and_unlink(files: Path, reg: Registry) -> None:
    reg.log(draft("churn-model", type="model", files={"old.txt": "0"}))
    art = Artifact("churn-model", type="model")
    art.add_file(files / "model.pkl")
    v = reg.log(art)
    member = v.link("model-registry/churn", aliases=["production"])
    assert member.is_link and member.linked_version == v
    assert (member.ref, member.source_version, member.source_name) == (
        "model-registry/churn:v0",
        "v1",
        "churn-model:v1",
    )
    assert reg.get("model-registry/churn:production") == member
    assert member.get_entry("model.pkl").digest == v.get_entry("model.pkl").digest
    with pytest.raises(InvalidRefError, match="not a registry member"):
        v.unlink()
    # link() on the version is guarded like Registry.link: no alias for a quarantined version
    bad = reg.log(draft("churn-model", type="model", files={"bad.txt": "0"}))
    reg.quarantine(bad.ref, "trained on zeros")
    with pytest.raises(artiflow.ArtiflowError, match="quarantine"):
        bad.link("model-registry/churn", aliases=["staging"])
    assert reg.get("model-registry/churn:production") == member
    member.unlink()
    with pytest.raises(ArtifactNotFoundError):
        reg.get("model-registry/churn:production")
    assert reg.get("churn-model:v1").state == "COMMITTED"  # the linked version is untouched


# ---- Comet ------------------------------------------------------------------------------------
def test_comet_artifact_with_asset_metadata(files: Path, reg: Registry) -> None:
    art = Artifact(
        "churn-model",
        artifact_type="model",
        metadata={"framework": "lightgbm"},
        aliases=["candidate"],
        version_tags=["nightly"],
    )
    art.add(files / "model.pkl", logical_path="model/model.pkl", metadata={"auc": 0.9})
    art.add(files / "images", logical_path="images", asset_type="images")
    art.add_remote(
        f"file://{files / 'remote'}",
        logical_path="raw",
        asset_type="raw-data",
        metadata={"source": "nfs"},
        max_synced_objects=10,
    )
    v = reg.log(art, semver="1.0.0", tags=["reviewed"])  # experiment.log_artifact(artifact)
    assert v.type == v.artifact_type == "model"
    assert v.aliases == ["latest", "candidate"]
    assert v.version_tags == ["nightly", "reviewed"] and str(v.semver) == "1.0.0"
    got = reg.get("default/churn-model:1.0.0")  # experiment.get_artifact(name, ws, version)
    model = got.get_asset("model/model.pkl")
    assert (model.logical_path, model.remote, model.link, model.size) == (
        "model/model.pkl",
        False,
        None,
        7,
    )
    assert model.metadata == {"auc": 0.9} and model.asset_type is None
    images = [a for a in got.assets if a.path.startswith("images/")]
    assert [(a.asset_type, a.metadata) for a in images] == [("images", {}), ("images", {})]
    remote = [a for a in got.assets if a.remote]
    assert [a.logical_path for a in remote] == ["raw/part-0.csv", "raw/part-1.csv"]
    assert all(a.link and a.link.startswith("file://") for a in remote)
    assert {a.asset_type for a in remote} == {"raw-data"}
    assert all(a.metadata == {"source": "nfs"} for a in remote)
    # the metadata is part of the entry: it round-trips through JSON and survives patches
    assert Entry.from_dict(model.to_dict()) == model and model.to_dict()["metadata"] == {"auc": 0.9}
    patch = got.new_draft()
    patch.add_file(files / "images" / "a.png", name="extra.png", metadata={"new": True})
    v1 = reg.log(patch)
    assert v1.get_entry("model/model.pkl").metadata == {"auc": 0.9}
    assert v1.get_entry("extra.png").metadata == {"new": True}


def test_comet_overwrite_and_label_updates(files: Path, reg: Registry) -> None:
    art = Artifact("ds")
    art.add(files / "model.pkl", logical_path="m.bin", metadata={"n": 1})
    with pytest.raises(artiflow.ConflictError):
        art.add(files / "images" / "a.png", logical_path="m.bin")
    art.add(files / "images" / "a.png", logical_path="m.bin", overwrite=True)
    art.add_remote(f"file://{files / 'remote'}", logical_path="raw")
    art.add_remote(f"file://{files / 'model.pkl'}", logical_path="raw", overwrite=True)
    # a removed entry takes its metadata with it (a new entry at its path starts without)
    art.add_dir(files / "images", name="pics", metadata={"old": True})
    art.remove("pics")
    art.add_reference(f"file://{files / 'images'}", name="pics")
    v = reg.log(art)
    assert [a.metadata for a in v.assets if a.path.startswith("pics/")] == [{}, {}]
    assert v.get_asset("m.bin").metadata == {} and v.get_asset("m.bin").size == 1
    assert [a.path for a in v.assets if a.remote and not a.path.startswith("pics/")] == ["raw"]
    v.update_version_tags(["reviewed"])
    v.update_aliases(["production"])
    again = reg.get("ds:production")
    assert again.version_tags == ["reviewed"] and again.aliases == ["latest", "production"]


def test_asset_metadata_changes_the_version(files: Path, reg: Registry) -> None:
    """The entry metadata is part of the manifest: same files with other metadata is a new
    version, the same metadata again is the same version."""

    def log(meta: dict[str, int] | None) -> ArtifactVersion:
        art = Artifact("ds")
        art.add_file(files / "model.pkl", metadata=meta)
        return reg.log(art)

    plain = log(None)
    assert plain.get_entry("model.pkl").metadata == {} and plain.get_entry("model.pkl").extra == {}
    with_meta = log({"rows": 1})
    assert with_meta.version == "v1" and with_meta.digest != plain.digest
    assert log({"rows": 1}).version == "v1"
    assert log({"rows": 2}).version == "v2"


def test_asset_metadata_is_validated_before_writing(files: Path, tmp_path: Path) -> None:
    art = Artifact("ds")
    with pytest.raises(InvalidFieldError, match="asset metadata"):
        art.add_file(files / "model.pkl", metadata={"bad": float("nan")})
    with pytest.raises(InvalidFieldError, match="asset metadata"):
        art.add_file(files / "model.pkl", metadata={"ids": {1, 2}})
    with pytest.raises(InvalidRefError, match="asset_type"):
        art.add_file(files / "model.pkl", asset_type="")
    with pytest.raises(InvalidFieldError, match="at most 64"):
        art.add_file(files / "model.pkl", asset_type="t" * 65)
    assert art.paths() == []  # nothing was added
    small = Registry(home=tmp_path / "small", max_metadata_bytes=64)
    art.add_file(files / "model.pkl", metadata={"blob": "x" * 100})
    with pytest.raises(InvalidFieldError, match="metadata of entry 'model.pkl'"):
        small.log(art)
    assert small.counters.files_read == 0  # refused before a file was read or stored
    with pytest.raises(ArtifactNotFoundError):
        small.get("ds")


# ---- DVCLive ----------------------------------------------------------------------------------
def test_dvclive_calls(files: Path, reg: Registry, tmp_path: Path) -> None:
    # live.log_artifact(path, type=, name=, desc=, labels=, meta=)
    v = artiflow.log_artifact(
        files / "model.pkl",
        type="model",
        name="churn-model",
        desc="gbm",
        labels=["baseline"],
        meta={"auc": 0.91},
        registry=reg,
    )
    assert (v.ref, v.type, v.description, v.tags, v.metadata) == (
        "default/churn-model:v0",
        "model",
        "gbm",
        ["baseline"],
        {"auc": 0.91},
    )
    ref = artiflow.log_artifact(files / "remote", name="raw", cache=False, registry=reg)
    assert all(e.remote for e in ref.files())
    # gto register --version / gto assign --stage; dvc.api.artifacts_show(name, stage=)
    reg.alias("churn-model:v0", "prod")
    shown = reg.get("churn-model:prod")
    assert (shown.version, shown.ref) == ("v0", "default/churn-model:v0")
    with shown.open("model.pkl") as fh:  # dvc.api.open(path)
        assert fh.read() == b"weights"
    # with Live() as live: live.log_artifact(...)  ->  a run that logs
    with reg.run("train") as run:
        logged = run.log(draft("metrics"), semver="0.1.0")
    assert logged.logged_by() == run and str(logged.semver) == "0.1.0"


# ---- names (issue 12 item 5) ------------------------------------------------------------------
def test_collection_names_mean_the_same_on_refs_and_versions(reg: Registry) -> None:
    v = reg.log(draft("ds", files={"a.txt": "1"}))
    r = reg.parse("ds:v0")
    assert (r.collection_name, v.collection_name) == ("ds", "ds")
    assert (r.full_name, v.full_name, v.qualified_name) == ("default/ds",) * 3
    # the older spellings keep working, with their old meanings
    assert r.collection == "default/ds" and v.collection == v.name == "ds"
    assert Ref.collection is Ref.full_name


def test_semver_keyword_and_its_older_spelling(reg: Registry) -> None:
    v0 = reg.log(draft(files={"a.txt": "1"}), semver="1.4.0")
    v1 = reg.log(draft(files={"a.txt": "2"}), version="1.5.0")  # older spelling
    v2 = reg.log(draft(files={"a.txt": "3"}), semver="1.6.0", version="1.6.0")
    (v3,) = reg.log_many([(draft(files={"a.txt": "4"}), {"semver": "2.0.0"})])
    assert [str(v.semver) for v in (v0, v1, v2, v3)] == ["1.4.0", "1.5.0", "1.6.0", "2.0.0"]
    assert [v.version for v in (v0, v1, v2, v3)] == ["v0", "v1", "v2", "v3"]
    assert reg.get("ds:1.5.0") == v1
    with pytest.raises(InvalidRefError, match="differ"):
        reg.log(draft(files={"a.txt": "5"}), semver="3.0.0", version="3.0.1")
    assert len(reg.versions("ds")) == 4
    reg.upsert(draft("shards", files={"s0": "0"}), distributed_id="d1")
    done = reg.finish(Artifact("shards"), distributed_id="d1", semver="0.1.0")
    assert str(done.semver) == "0.1.0"


def test_the_other_mapped_calls(files: Path, reg: Registry, tmp_path: Path, capsys) -> None:
    """The rows of the tables whose artiflow call has the W&B name already: checkout, save,
    delete, listings, lineage, and the CLI lines of the DVC/GTO table."""
    from artiflow.cli import main

    art = Artifact("ds", type="dataset")
    art.add_dir(files / "images")
    v = reg.log(art)
    out = v.checkout(tmp_path / "co")
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    v.description = "edited"
    v.metadata["rows"] = 2
    v.aliases.append("staging")
    v.tags.append("checked")
    v.save()
    again = reg.get("ds:staging")
    assert (again.description, again.metadata, again.tags) == ("edited", {"rows": 2}, ["checked"])
    assert [x.version for x in reg.versions("ds")] == ["v0"]
    assert [c.name for c in reg.collections(type="dataset")] == ["ds"]
    with reg.run("train") as run:
        run.use("ds:staging")
    assert [r.id for r in again.used_by()] == [run.id] and again.logged_by() is None
    # the CLI lines (artiflow log --semver, alias, get) on the same database and store
    common = ["--db-url", reg.db_url, "--store-url", reg.store_url]
    model = files / "model.pkl"
    assert main([*common, "log", str(model), "--name", "m", "--semver", "1.0.0"]) == 0
    assert main([*common, "alias", "m:1.0.0", "prod"]) == 0
    assert main([*common, "get", "m:prod", "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert (tmp_path / "out" / "model.pkl").read_text() == "weights"
    assert str(reg.get("m:prod").semver) == "1.0.0"
    reg.get("ds:v0").delete(delete_aliases=True)
    assert reg.versions("ds") == []
