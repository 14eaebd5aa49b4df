"""Reading versions: download, verify, open, get_path, link types, lost and corrupt blobs (artiflow.version, artiflow._ops.materialize).

Real SQLite and a real local folder (split from tests/test_registry.py)."""

from __future__ import annotations

import os

import pytest
from drafts import draft

from artiflow import Artifact, ArtifactNotFoundError, Registry, StoreError, VerificationError


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


def test_store_missing_blob_is_reported(registry, tmp_path):
    v = registry.log(draft())
    os.unlink(registry.store.path(v.get_path("a.txt").digest))
    with pytest.raises(StoreError, match="missing"):
        v.download(tmp_path / "o")


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
