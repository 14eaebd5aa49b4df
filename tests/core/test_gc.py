"""Garbage collection from the facade (artiflow._ops.gc).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

from drafts import draft


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


def test_stale_pending_versions_removed_by_gc(registry):
    registry.upsert(draft("shards", files={"p": "1"}), distributed_id="abandoned")
    assert registry.gc(grace_seconds=3600).pending_removed == 0
    assert registry.gc(grace_seconds=0).pending_removed == 1
