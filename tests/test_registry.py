"""The registry contract (DESIGN section 2) on the embedded default: real SQLite, real folder."""

from __future__ import annotations

import os

import pytest

from artiflow import (
    AliasInUseError,
    Artifact,
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidRefError,
    Registry,
    StoreError,
    VerificationError,
)


def draft(name="ds", type="dataset", files=None, **kw):
    art = Artifact(name, type=type, **kw)
    for path, text in (files or {"a.txt": "alpha"}).items():
        with art.new_file(path) as f:
            f.write(text)
    return art


def test_log_versions_and_latest(registry):
    v0 = registry.log(draft(files={"a.txt": "1"}))
    v1 = registry.log(draft(files={"a.txt": "2"}))
    assert (v0.version, v1.version, v1.index) == ("v0", "v1", 1)
    assert v1.ref == "default/ds:v1"
    assert registry.get("ds").version == "v1"
    assert registry.get("ds:latest").aliases == ["latest"]
    assert registry.get("ds:v0").aliases == []
    assert [v.version for v in registry.versions("ds")] == ["v0", "v1"]
    assert v1.state == "COMMITTED" and v1.type == "dataset" and v1.collection == "ds"
    assert v1.project == "default" and len(v1.digest) == 64 and v1.size == 1


def test_same_content_is_a_noop_that_applies_labels(registry):
    v0 = registry.log(draft())
    again = registry.log(draft(), aliases=["production"], tags=["nightly"])
    assert again.version == v0.version == "v0"
    assert "production" in again.aliases and again.tags == ["nightly"]
    assert len(registry.versions("ds")) == 1


def test_digest_ignores_metadata_and_depends_on_paths(registry):
    a = registry.log(draft(metadata={"x": 1}))
    b = registry.log(draft(metadata={"x": 2}))
    assert a.version == b.version
    c = registry.log(draft(files={"renamed.txt": "alpha"}))
    assert c.digest != a.digest and c.version == "v1"


def test_versions_never_reused_after_delete(registry):
    registry.log(draft(files={"a": "0"}))
    v1 = registry.log(draft(files={"a": "1"}))
    v1.delete()
    assert v1.state == "DELETED"
    assert registry.get("ds:latest").version == "v0"  # latest moved back
    with pytest.raises(ArtifactNotFoundError, match="deleted"):
        registry.get("ds:v1")
    v2 = registry.log(draft(files={"a": "2"}))
    assert v2.version == "v2"
    assert [v.version for v in registry.versions("ds", include_deleted=True)] == ["v0", "v1", "v2"]


def test_aliases_unique_and_moved_atomically(registry):
    registry.log(draft(files={"a": "0"}), aliases=["production"])
    v1 = registry.log(draft(files={"a": "1"}))
    moved = registry.alias("ds:v1", "production")
    assert moved.version == "v1" and "production" in moved.aliases
    assert "production" not in registry.get("ds:v0").aliases
    assert registry.get("ds:production") == v1
    history = registry.alias_history("ds")
    assert [(h["alias"], h["version"], h["previous"]) for h in history] == [
        ("production", "v1", "v0"),
        ("production", "v0", None),
    ]


@pytest.mark.parametrize("alias", ["latest", "v3", "1.0.0", "bad alias"])
def test_reserved_aliases_rejected_before_writing(registry, alias):
    with pytest.raises(InvalidRefError):
        registry.log(draft(), aliases=[alias])
    assert registry.collections() == []  # nothing was written
    registry.log(draft())
    with pytest.raises(InvalidRefError):
        registry.alias("ds:v0", alias)


def test_editable_labels_saved(registry):
    v = registry.log(draft(), tags=["raw"])
    v.description = "bikes"
    v.metadata["rows"] = 10
    v.tags.append("checked")
    v.aliases.append("staging")
    v.save()
    again = registry.get("ds:staging")
    assert again.description == "bikes" and again.metadata == {"rows": 10}
    assert again.tags == ["checked", "raw"] and again.aliases == ["latest", "staging"]
    again.aliases.remove("staging")
    again.save()
    with pytest.raises(ArtifactNotFoundError):
        registry.get("ds:staging")


def test_manifest_is_immutable_after_logging(registry):
    art = draft()
    v = registry.log(art)
    with pytest.raises(ArtifactFinalizedError):
        art.remove("a.txt")
    with pytest.raises(ArtifactFinalizedError), art.new_file("b.txt") as f:
        f.write("x")
    assert list(v.manifest.entries) == ["a.txt"]


def test_conflicting_entries_in_one_draft(tmp_path):
    (tmp_path / "x").write_text("one")
    (tmp_path / "y").write_text("two")
    (tmp_path / "z").write_text("one")
    art = Artifact("ds")
    art.add_file(tmp_path / "x", name="f")
    art.add_file(tmp_path / "z", name="f")  # same content twice is fine
    with pytest.raises(ConflictError, match="different content"):
        art.add_file(tmp_path / "y", name="f")
    with pytest.raises(ConflictError, match="file and a folder"):
        art.add_file(tmp_path / "y", name="f/inner")


def test_type_mismatch_is_a_conflict(registry):
    registry.log(draft(type="dataset"))
    with pytest.raises(ConflictError, match="type"):
        registry.log(draft(type="model", files={"m": "1"}))


def test_semver_labels(registry):
    v = registry.log(draft(files={"a": "1"}), version="1.4.0")
    assert str(v.semver) == "1.4.0"
    assert registry.get("ds:1.4.0") == v
    with pytest.raises(ConflictError, match="1.4.0"):
        registry.log(draft(files={"a": "2"}), version="1.4.0")
    nxt = registry.log(draft(files={"a": "3"}), version=str(v.semver.next_minor()))
    assert registry.get("ds:1.5.0") == nxt and nxt.version == "v1"


def test_delete_with_aliases(registry):
    v = registry.log(draft(), aliases=["production"])
    with pytest.raises(AliasInUseError, match="production"):
        v.delete()
    v.delete(delete_aliases=True)
    with pytest.raises(ArtifactNotFoundError):
        registry.get("ds:production")
    with pytest.raises(ArtifactNotFoundError, match="no committed version"):
        registry.get("ds")


def test_gc_removes_only_unreferenced_blobs(registry):
    keep = registry.log(draft(files={"shared": "same", "k": "keep"}))
    gone = registry.log(draft(files={"shared": "same", "g": "gone"}))
    gone.delete()
    dry = registry.gc(dry_run=True, grace_seconds=0)
    assert dry.blobs_deleted == 1 and dry.dry_run
    result = registry.gc(grace_seconds=0)
    assert result.blobs_deleted == 1 and result.bytes_freed == 4
    assert registry.gc(grace_seconds=0).blobs_deleted == 0
    # the kept version still downloads and verifies
    keep.download(registry.settings.home / "out")
    keep.verify(registry.settings.home / "out")
    # a recent blob is protected by the grace period
    fresh = registry.log(draft(files={"x": "fresh"}))
    fresh.delete()
    assert registry.gc().blobs_deleted == 0


def test_download_default_root_and_verify(registry, chdir_tmp):
    v = registry.log(draft(files={"a.txt": "alpha", "sub/b.txt": "beta"}))
    root = v.download()
    assert root == (chdir_tmp / "artifacts" / "ds:v0").absolute() == v.local_path
    assert (root / "sub" / "b.txt").read_text() == "beta"
    v.verify(root)
    (root / "a.txt").write_text("tampered")
    (root / "extra.txt").write_text("x")
    (root / "sub" / "b.txt").unlink()
    with pytest.raises(VerificationError) as info:
        v.verify(root)
    assert sorted(info.value.problems) == [
        ("changed", "a.txt"),
        ("extra", "extra.txt"),
        ("missing", "sub/b.txt"),
    ]
    # download leaves extra files alone and repairs the rest
    v.download(root)
    assert (root / "extra.txt").exists() and (root / "a.txt").read_text() == "alpha"
    # checkout makes the folder exactly the artifact
    v.checkout(root)
    v.verify(root)
    assert not (root / "extra.txt").exists()


def test_get_path_file_and_files(registry, tmp_path):
    v = registry.log(draft(files={"a.txt": "alpha", "b.txt": "beta"}))
    entry = v.get_path("b.txt")
    assert entry.size == 4 and entry.download(tmp_path / "one").read_text() == "beta"
    assert sorted(e.path for e in v.files()) == ["a.txt", "b.txt"]
    with pytest.raises(ArtifactNotFoundError, match="no entry"):
        v.get_path("c.txt")
    single = registry.log(draft("model", type="model", files={"model.json": "{}"}))
    assert single.file(tmp_path / "m").read_text() == "{}"
    with pytest.raises(ValueError, match="single-file"):
        v.file(tmp_path / "x")


def test_corrupt_blob_is_not_handed_out(registry, tmp_path):
    v = registry.log(draft(files={"a.txt": "alpha"}))
    blob = registry.store.path(v.get_path("a.txt").digest)
    os.chmod(blob, 0o644)
    with open(blob, "w") as fh:
        fh.write("evil!")
    with pytest.raises(VerificationError, match="corrupt"):
        v.download(tmp_path / "out")
    assert not (tmp_path / "out" / "a.txt").exists()


def test_download_into_new_folder_is_all_or_nothing(registry, tmp_path):
    """A new folder appears whole or not at all: one corrupt blob among many leaves no folder,
    no half-written files and no hidden temporary folder beside it."""
    files = {f"part-{i // 10}/f{i}.txt": f"content {i}" for i in range(40)}
    v = registry.log(draft(files=files))
    blob = registry.store.path(v.get_path("part-3/f35.txt").digest)
    os.chmod(blob, 0o644)
    with open(blob, "w") as fh:
        fh.write("evil!")
    out = tmp_path / "deep" / "out"
    with pytest.raises(VerificationError, match="corrupt"):
        v.download(out)
    assert not out.exists()
    assert os.listdir(tmp_path / "deep") == []


@pytest.mark.parametrize("existing", [False, True])
def test_download_of_a_lost_blob_says_so(registry, tmp_path, existing):
    """A blob deleted from the store behind the registry's back: a clear StoreError, into a new
    folder (nothing appears) or an existing one (the other files are still written)."""
    v = registry.log(draft(files={"a.txt": "alpha", "b.txt": "beta"}))
    os.unlink(registry.store.path(v.get_path("b.txt").digest))
    out = tmp_path / "dl" / "out"
    if existing:
        out.mkdir(parents=True)
    with pytest.raises(StoreError, match="missing from store"):
        v.download(out)
    assert out.exists() == existing
    assert sorted(os.listdir(tmp_path / "dl")) == (["out"] if existing else [])


def test_download_into_new_folder_has_normal_permissions(registry, tmp_path):
    v = registry.log(draft(files={"a.txt": "alpha", "sub/b.txt": "beta"}))
    where = tmp_path / "dl"
    old = os.umask(0o022)
    try:
        out = v.download(where / "new")
        (where / "made-by-mkdir").mkdir()
    finally:
        os.umask(old)
    expected = os.stat(where / "made-by-mkdir").st_mode & 0o777
    assert os.stat(out).st_mode & 0o777 == expected == 0o755
    assert os.stat(out / "a.txt").st_mode & 0o777 == 0o644
    assert sorted(os.listdir(where)) == ["made-by-mkdir", "new"]
    v.verify(out)


def test_plain_entries_store_no_json_extra(registry):
    """Files without reference identity keep SQL NULL in entries.extra (nothing to decode when
    a manifest of many files is loaded); references keep theirs."""
    import sqlalchemy as sa

    v = registry.log(draft(files={"a.txt": "alpha"}))
    with registry.catalog.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT extra FROM entries")).all()
    assert rows == [(None,)]
    assert registry.get(v.ref).get_path("a.txt").extra == {}


@pytest.mark.parametrize("link_type", ["copy", "reflink", "hardlink", "symlink"])
def test_link_types(tmp_path, link_type):
    reg = Registry(home=tmp_path / "h", link_type=link_type)
    v = reg.log(draft(files={"a.txt": "alpha"}))
    out = v.download(tmp_path / "out")
    target = out / "a.txt"
    assert target.read_text() == "alpha"
    assert target.is_symlink() == (link_type == "symlink")
    blob = reg.store.path(v.get_path("a.txt").digest)
    if link_type == "hardlink":
        assert os.stat(target).st_ino == os.stat(blob).st_ino
    elif link_type in ("copy", "reflink"):
        assert os.stat(target).st_ino != os.stat(blob).st_ino
    v.verify(out)


def test_blobs_deduplicated_across_collections(registry):
    registry.log(draft("one", files={"x": "same"}))
    registry.log(draft("two", files={"y": "same", "z": "other"}))
    assert len(list(registry.store.iter_blobs())) == 2


def test_patches_only_store_changed_files(registry, tmp_path):
    base = registry.log(draft(files={"a": "1", "b": "2", "c": "3"}))
    patch = base.new_draft()
    patch.remove("a")
    new = tmp_path / "d"
    new.write_text("4")
    patch.add_file(new)
    v1 = registry.log(patch)
    assert sorted(v1.manifest.entries) == ["b", "c", "d"]
    assert v1.get_path("b").digest == base.get_path("b").digest
    assert v1.version == "v1"


def test_collaborative_upsert_and_finish(registry):
    for i in range(3):
        registry.upsert(draft("shards", files={f"part-{i}.csv": str(i)}), distributed_id="run-1")
    with pytest.raises(ArtifactNotFoundError):
        registry.get("shards")  # pending is invisible
    registry.upsert(
        draft("shards", files={"part-0.csv": "0"}), distributed_id="run-1"
    )  # same content ok
    with pytest.raises(ConflictError, match="part-0.csv"):
        registry.upsert(draft("shards", files={"part-0.csv": "different"}), distributed_id="run-1")
    v = registry.finish(
        Artifact("shards", type="dataset"), distributed_id="run-1", aliases=["complete"]
    )
    assert sorted(v.manifest.entries) == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert v.version == "v0" and "complete" in v.aliases
    with pytest.raises(ArtifactFinalizedError):
        registry.upsert(draft("shards", files={"late.csv": "x"}), distributed_id="run-1")


def test_stale_pending_versions_removed_by_gc(registry):
    registry.upsert(draft("shards", files={"p": "1"}), distributed_id="abandoned")
    assert registry.gc(grace_seconds=3600).pending_removed == 0
    assert registry.gc(grace_seconds=0).pending_removed == 1


def test_link_into_registry_collection(registry, tmp_path):
    m0 = registry.log(draft("churn-model", type="model", files={"m": "0"}))
    m1 = registry.log(draft("churn-model", type="model", files={"m": "1"}))
    l0 = registry.link("churn-model:v0", "model-registry/churn", aliases=["production"])
    l1 = registry.link(m1, "model-registry/churn", aliases=["staging"])
    assert (l0.ref, l1.ref) == ("model-registry/churn:v0", "model-registry/churn:v1")
    prod = registry.get("model-registry/churn:production")
    assert prod.is_link and prod.linked_version == m0
    assert prod.file_count == m0.file_count == 1 and prod.size == m0.size
    assert prod.file(tmp_path / "p").read_text() == "0"
    registry.alias("model-registry/churn:v1", "production")
    assert registry.get("model-registry/churn:production").linked_version == m1
    # no content copied: nothing new in the store
    assert len(list(registry.store.iter_blobs())) == 2
    # a linked version's blobs survive the deletion of the original
    m0.delete()
    registry.gc(grace_seconds=0)
    assert registry.get("model-registry/churn:v0").file(tmp_path / "q").read_text() == "0"
    with pytest.raises(ConflictError, match="registry collection"):
        registry.log(draft("model-registry/churn", type="model"))


def test_runs_and_lineage(registry):
    with registry.run("ingest", pipeline="nightly", pipeline_run="r1", task="ingest") as ingest:
        raw = ingest.log(draft("raw", files={"r": "raw"}))
    with registry.run("clean", pipeline="nightly", pipeline_run="r1", task="clean") as clean:
        used = clean.use("raw:latest")
        ds = clean.log(draft("bike-dataset", files={"c": "clean"}))
    with registry.run(
        "train", orchestrator="airflow", pipeline="train", pipeline_run="t1", task="fit"
    ) as train:
        train.use(ds)
        model = train.log(
            draft("churn-model", type="model", files={"m": "w"}), aliases=["candidate"]
        )
    assert used == raw
    assert model.logged_by() == train and train.state == "SUCCESS"
    assert [r.name for r in ds.used_by()] == ["train"]
    assert train.used_artifacts() == [ds] and train.logged_artifacts() == [model]
    up = registry.lineage("churn-model:candidate")
    refs = sorted(n["ref"] for n in up.versions())
    assert refs == ["default/bike-dataset:v0", "default/churn-model:v0", "default/raw:v0"]
    assert sorted(n["name"] for n in up.runs()) == ["clean", "ingest", "train"]
    one = registry.lineage("churn-model:candidate", depth=1)
    assert sorted(n["ref"] for n in one.versions()) == [
        "default/bike-dataset:v0",
        "default/churn-model:v0",
    ]
    down = registry.lineage("raw:v0", direction="downstream")
    assert "default/churn-model:v0" in {n["ref"] for n in down.versions()}
    both = registry.lineage("bike-dataset:v0", direction="both")
    assert len(both.versions()) == 3
    mermaid = up.to_mermaid()
    assert mermaid.startswith("graph LR") and "default/raw:v0" in mermaid and "-->|used|" in mermaid
    assert up.to_dot().startswith("digraph lineage {")
    data = up.to_dict()
    assert {e["kind"] for e in data["edges"]} == {"used", "logged"}
    events = up.to_openlineage()
    train_event = next(e for e in events if e["job"]["name"] == "train.fit")
    assert train_event["eventType"] == "COMPLETE"
    assert train_event["inputs"][0]["name"] == "bike-dataset"
    assert train_event["outputs"][0]["facets"]["version"]["datasetVersion"] == "v0"
    with pytest.raises(InvalidRefError):
        registry.lineage("raw", direction="sideways")


def test_failed_run_is_recorded_and_commits_nothing_it_did_not_log(registry):
    with pytest.raises(RuntimeError), registry.run("train") as run:
        run.use(registry.log(draft()))
        raise RuntimeError("boom")
    run_again = registry.get_run(run.id)
    assert run_again.state == "FAILED" and "boom" in run_again.error
    assert run_again.logged_artifacts() == []


def test_same_run_pinning_primitive(registry):
    with registry.run(
        "prep", orchestrator="airflow", pipeline="dag", pipeline_run="run-a", task="prep"
    ) as r:
        mine = r.log(draft(files={"a": "mine"}))
    # a concurrent run logs a newer version meanwhile
    with registry.run(
        "prep", orchestrator="airflow", pipeline="dag", pipeline_run="run-b", task="prep"
    ) as r:
        r.log(draft(files={"a": "theirs"}))
    assert registry.get("ds").version == "v1"
    pinned = registry.produced_in(
        "ds", orchestrator="airflow", pipeline_run="run-a", tasks=["prep"]
    )
    assert pinned == mine
    assert (
        registry.produced_in("ds", orchestrator="airflow", pipeline_run="run-a", tasks=["other"])
        is None
    )
    assert registry.produced_in("ds", orchestrator="prefect", pipeline_run="run-a") is None


def test_events_for_versions_and_alias_moves(registry):
    seen = []
    stop = registry.subscribe(seen.append)
    registry.log(draft(files={"a": "0"}), aliases=["production"])
    registry.log(draft(files={"a": "1"}))
    registry.alias("ds:v1", "production")
    stop()
    registry.log(draft(files={"a": "2"}))
    kinds = [(e.kind, e.version, e.alias, e.previous) for e in seen]
    assert kinds == [
        ("version.created", "v0", None, None),
        ("alias.moved", "v0", "production", None),
        ("version.created", "v1", None, None),
        ("alias.moved", "v1", "production", "v0"),
    ]
    assert seen[0].resource == "artiflow.artifact.default.ds" and len(seen[0].digest) == 64


def test_subscriber_errors_do_not_undo_commits(registry, caplog):
    def broken(event):
        raise RuntimeError("subscriber bug")

    registry.subscribe(broken)
    v = registry.log(draft())
    assert registry.get("ds") == v
    assert "subscriber" in caplog.text


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


def test_file_reference_records_checksum_and_detects_change(registry, tmp_path):
    src = tmp_path / "big.csv"
    src.write_text("1,2,3")
    art = Artifact("refs")
    art.add_reference(f"file://{src}", name="big.csv")
    v = registry.log(art)
    entry = v.get_path("big.csv")
    assert entry.is_reference and entry.ref == f"file://{src}" and len(entry.digest) == 64
    assert list(registry.store.iter_blobs()) == []  # nothing copied
    out = v.download(tmp_path / "out")
    assert (out / "big.csv").read_text() == "1,2,3"
    v.verify(out)
    src.write_text("1,2,4")
    with pytest.raises(VerificationError, match="reference changed"):
        v.verify(out)
    with pytest.raises(VerificationError, match="does not match what was logged"):
        v.download(tmp_path / "again")


def test_file_reference_folder_max_objects(registry, make_files):
    root = make_files({f"f{i}.txt": str(i) for i in range(5)})
    art = Artifact("refs")
    art.add_reference(f"file://{root}", name="dir", max_objects=4)
    with pytest.raises(ValueError, match="more than 4 objects"):
        registry.log(art)
    assert registry.collections() == []
    art2 = Artifact("refs")
    art2.add_reference(f"file://{root}", name="dir")
    v = registry.log(art2)
    assert len(v.manifest) == 5 and "dir/f0.txt" in v.manifest


def test_reference_without_checksum(registry, tmp_path):
    src = tmp_path / "x"
    src.write_text("x")
    art = Artifact("refs")
    art.add_reference(f"file://{src}", checksum=False)
    e = registry.log(art).get_path("x")
    assert e.ref == f"file://{src}" and e.digest is None and e.size is None


def test_stat_cache_skips_rehashing(registry, make_files):
    root = make_files({f"f{i}.txt": f"content {i}" for i in range(20)})
    for p in root.iterdir():  # age the files beyond the racy window
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    art = Artifact("ds")
    art.add_dir(root)
    v0 = registry.log(art)
    cached = registry.stat_cache.lookup([str(p) for p in root.iterdir()])
    assert len(cached) == 20
    # change one file (content and mtime): only it is re-hashed, and a new version is made
    (root / "f3.txt").write_text("changed!")
    art = Artifact("ds")
    art.add_dir(root)
    v1 = registry.log(art)
    assert v1.version == "v1" and v1.get_path("f3.txt").digest != v0.get_path("f3.txt").digest


def test_store_missing_blob_is_reported(registry, tmp_path):
    v = registry.log(draft())
    os.unlink(registry.store.path(v.get_path("a.txt").digest))
    with pytest.raises(StoreError, match="missing"):
        v.download(tmp_path / "o")


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


def test_open_streams_verified_content(registry, tmp_path):
    v = registry.log(draft(files={"a.txt": "alpha" * 1000, "b.txt": "beta"}))
    with v.open("a.txt") as fh:
        assert fh.read() == b"alpha" * 1000
    blob = registry.store.path(v.get_path("b.txt").digest)
    os.chmod(blob, 0o644)
    with open(blob, "w") as fh:
        fh.write("evil")
    with pytest.raises(VerificationError, match="corrupt"), v.open("b.txt") as fh:
        fh.read()
    with pytest.raises(ArtifactNotFoundError):
        v.open("missing.txt")
    ref_src = tmp_path / "r.txt"
    ref_src.write_text("referenced")
    art = Artifact("refs")
    art.add_reference(f"file://{ref_src}")
    with registry.log(art).open("r.txt") as fh:
        assert fh.read() == b"referenced"


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


def test_lineage_through_registry_links(registry):
    with registry.run("train", task="fit") as run:
        run.use(registry.log(draft("ds")))
        model = run.log(draft("model", type="model", files={"m": "1"}))
    registry.link(model, "model-registry/churn", aliases=["production"])
    up = registry.lineage("model-registry/churn:production")
    assert {n["ref"] for n in up.versions()} == {
        "model-registry/churn:v0",
        "default/model:v0",
        "default/ds:v0",
    }
    assert ("link" in {k for _, _, k in up.edges}) and len(up.runs()) == 1
    down = registry.lineage("ds:v0", direction="downstream")
    assert "model-registry/churn:v0" in {n["ref"] for n in down.versions()}


def test_lineage_terminates_on_cycles(registry):
    x = registry.log(draft("x", files={"a": "1"}))
    with registry.run("a") as run:
        run.use(x)
        y = run.log(draft("y", files={"b": "1"}))
    with registry.run("b") as run:
        run.use(y)
        again = run.log(draft("x", files={"a": "1"}))  # same content: the existing x:v0
    assert again == x
    for direction in ("upstream", "downstream", "both"):
        g = registry.lineage("x:v0", direction=direction)
        assert {n["ref"] for n in g.versions()} == {"default/x:v0", "default/y:v0"}
        assert len(g.runs()) == 2


def test_log_many_is_all_or_nothing(registry):
    registry.log(draft("report", type="report", files={"r": "0"}))
    model, report = registry.log_many(
        [
            (draft("model", type="model"), {"aliases": ["candidate"]}),
            draft("report", type="report", files={"r": "1"}),
        ]
    )
    assert (model.ref, report.ref) == ("default/model:v0", "default/report:v1")
    assert model.aliases == ["latest", "candidate"]
    # the second draft is invalid (type clash): the first must not become visible either
    with pytest.raises(ConflictError, match="type"):
        registry.log_many(
            [draft("model", type="model", files={"m": "2"}), draft("report", type="dataset")]
        )
    assert registry.get("model").version == "v0" and [
        v.version for v in registry.versions("model")
    ] == ["v0"]
    with pytest.raises(ConflictError, match="twice"):
        registry.log_many([draft("x"), draft("x", files={"b": "2"})])
    with pytest.raises(InvalidRefError):
        registry.log_many([(draft("y"), {"aliases": ["latest"]})])
    assert registry.count_collections() == 2
    with registry.run("train") as run:
        outs = run.log_many([draft("a"), draft("b")])
    assert [v.logged_by() for v in outs] == [run, run]


def test_large_files_go_through_the_thread_pool(registry, tmp_path):
    # files averaging >= 1 MiB are hashed, stored and downloaded in parallel
    root = tmp_path / "big"
    root.mkdir()
    blobs = {f"part-{i}.bin": os.urandom(1536 * 1024) for i in range(4)}
    for name, data in blobs.items():
        (root / name).write_bytes(data)
    art = Artifact("big")
    art.add_dir(root)
    v = registry.log(art)
    out = v.download(tmp_path / "out")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == blobs
    v.verify(out)
