import pytest

from artiflow import Artifact, InvalidPathError
from artiflow.manifest import normalize_path


@pytest.mark.parametrize(
    "bad,why",
    [
        ("../x", "'..'"),
        ("a/../b", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a//b", "empty"),
        ("a/", "empty"),
        ("a\x00b", "NUL"),
        ("a\\b", "backslash"),
        ("./a", "'.'"),
        ("", "non-empty"),
    ],
)
def test_unsafe_entry_paths_rejected(bad, why):
    with pytest.raises(InvalidPathError, match=why):
        normalize_path(bad)


def test_draft_rejects_unsafe_names_before_changing(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x")
    art = Artifact("ds")
    with pytest.raises(InvalidPathError):
        art.add_file(f, name="../escape.txt")
    with pytest.raises(InvalidPathError, match="does not exist"):
        art.add_file(tmp_path / "missing.txt")
    with pytest.raises(InvalidPathError, match="folder"):
        art.add_file(tmp_path)
    assert art.paths() == []


def test_add_dir_symlinks_inside_followed_outside_skipped(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "real.txt").write_text("inside")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside")
    (root / "link_in.txt").symlink_to(root / "sub" / "real.txt")
    (root / "link_out.txt").symlink_to(outside)
    (root / "dir_out").symlink_to(tmp_path)
    art = Artifact("ds")
    paths = art.add_dir(root)
    assert sorted(paths) == ["link_in.txt", "sub/real.txt"]
