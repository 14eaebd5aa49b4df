from __future__ import annotations

import pytest

from artiflow import InvalidPathError, Registry, log_artifact


def test_log_artifact_file_and_folder(tmp_path, make_files):
    reg = Registry(home=tmp_path / "h")
    data = make_files({"a.csv": "1", "b.csv": "2"}, root="train-data")
    v = log_artifact(
        data, type="dataset", desc="training data", labels=["raw"], meta={"rows": 2}, registry=reg
    )
    assert v.ref == "default/train-data:v0" and v.tags == ["raw"] and v.metadata == {"rows": 2}
    assert v.description == "training data" and sorted(v.manifest.entries) == ["a.csv", "b.csv"]
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    m = log_artifact(model, type="model", registry=reg)
    assert m.ref == "default/model:v0" and m.type == "model"
    model.write_bytes(b"weights2")
    assert log_artifact(model, registry=reg).type == "model"  # type taken from the collection


def test_log_artifact_without_cache_records_reference(tmp_path):
    reg = Registry(home=tmp_path / "h")
    f = tmp_path / "huge.parquet"
    f.write_bytes(b"x" * 100)
    v = log_artifact(f, name="huge", cache=False, registry=reg)
    e = v.get_path("huge.parquet")
    assert e.ref == f"file://{f}" and e.digest is not None
    assert list(reg.store.iter_blobs()) == []
    c = log_artifact(f, name="huge-copy", cache=False, copy=True, registry=reg)
    copied = c.get_path("huge.parquet").ref
    assert copied.startswith(f"file://{tmp_path / 'h' / 'files'}")
    f.write_bytes(b"y")  # the original changes; the copy stays valid
    c.verify(c.download(tmp_path / "out"))


def test_log_artifact_missing_path(tmp_path):
    with pytest.raises(InvalidPathError, match="does not exist"):
        log_artifact(tmp_path / "nope", registry=Registry(home=tmp_path))
