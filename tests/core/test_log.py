"""Logging drafts: versions, de-duplication, digests, conflicts, semver, patches, collaborative versions, references, the stat cache and the thread pool (artiflow._ops.log, artiflow._ops.ingest).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

import os

import pytest
from drafts import draft

from artiflow import (
    Artifact,
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidRefError,
    VerificationError,
)


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


def test_plain_entries_store_no_json_extra(registry):
    """Files without reference identity keep SQL NULL in entries.extra (nothing to decode when
    a manifest of many files is loaded); references keep theirs."""
    import sqlalchemy as sa

    v = registry.log(draft(files={"a.txt": "alpha"}))
    with registry.catalog.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT extra FROM entries")).all()
    assert rows == [(None,)]
    assert registry.get(v.ref).get_path("a.txt").extra == {}


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


def _log_dir(registry, root, name="ds"):
    art = Artifact(name)
    art.add_dir(root)
    return registry.log(art)


def test_stat_cache_skips_rehashing(registry, make_files):
    root = make_files({f"f{i}.txt": f"content {i}" for i in range(20)})
    for p in root.iterdir():  # age the files beyond the racy window
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    v0 = _log_dir(registry, root)
    assert registry.counters.files_read == 20
    assert len(registry.stat_cache.lookup([str(p) for p in root.iterdir()])) == 20
    # the same files again: not one is read, and the log is the no-op that returns latest
    assert _log_dir(registry, root) == v0
    assert registry.counters.files_read == 20
    # the cache trusts (size, mtime, inode): content rewritten in place with the same size and
    # the old mtime put back is not read again (what a cache disabled would have noticed)
    (root / "f5.txt").write_text("CONTENT 5")
    os.utime(root / "f5.txt", ns=(1_000_000_000, 1_000_000_000))
    assert _log_dir(registry, root) == v0 and registry.counters.files_read == 20
    # change one file (content and mtime): only it is read, and a new version is made
    (root / "f3.txt").write_text("changed!")
    v1 = _log_dir(registry, root)
    assert registry.counters.files_read == 21
    assert v1.version == "v1" and v1.get_path("f3.txt").digest != v0.get_path("f3.txt").digest


def test_large_files_go_through_the_thread_pool(registry, tmp_path):
    # files averaging >= 1 MiB are hashed, stored and downloaded on the pool's threads
    root = tmp_path / "big"
    root.mkdir()
    blobs = {f"part-{i}.bin": os.urandom(1536 * 1024) for i in range(4)}
    for name, data in blobs.items():
        (root / name).write_bytes(data)
    v = _log_dir(registry, root, "big")
    assert (registry.counters.pool_runs, registry.counters.pool_items) == (1, 4)
    out = v.download(tmp_path / "out")
    assert (registry.counters.pool_runs, registry.counters.pool_items) == (2, 8)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == blobs
    v.verify(out)
    # small files stay on the calling thread (threads cost more than they give there)
    small = tmp_path / "small"
    small.mkdir()
    for i in range(4):
        (small / f"s{i}.txt").write_text(f"small {i}")
    _log_dir(registry, small, "small")
    assert (registry.counters.pool_runs, registry.counters.pool_items) == (2, 8)
