"""Labels: aliases, editable labels, deletion, registry links and the events they send (artiflow._ops.labels, artiflow.events).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

import pytest
from drafts import draft

from artiflow import (
    AliasInUseError,
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidRefError,
)


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


def test_delete_with_aliases(registry):
    v = registry.log(draft(), aliases=["production"])
    with pytest.raises(AliasInUseError, match="production"):
        v.delete()
    v.delete(delete_aliases=True)
    with pytest.raises(ArtifactNotFoundError):
        registry.get("ds:production")
    with pytest.raises(ArtifactNotFoundError, match="no committed version"):
        registry.get("ds")


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
