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


# ---- issue 11 items 11 and 12 ------------------------------------------------------------------
import os  # noqa: E402
import unicodedata  # noqa: E402

from artiflow import ArtiflowError  # noqa: E402


def test_add_dir_non_utf8_name_is_a_clear_error(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.txt").write_text("x")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as f:
        f.write(b"x")
    art = Artifact("ds")
    with pytest.raises(InvalidPathError, match=r"b'caf\\xe9.txt'"):
        art.add_dir(root)
    assert art.paths() == []


def test_add_dir_symlink_loops_are_clear_errors(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "up").symlink_to(root)
    with pytest.raises(InvalidPathError, match="loop") as info:
        Artifact("ds").add_dir(root)
    assert "up" in str(info.value)
    self_loop = tmp_path / "self"
    self_loop.mkdir()
    (self_loop / "loop").symlink_to(self_loop / "loop")
    with pytest.raises(InvalidPathError, match="loop"):
        Artifact("ds").add_dir(self_loop)


@pytest.mark.parametrize("name", ["a" * 256, "/".join(["d" * 200] * 21)])
def test_new_file_too_long_name_is_a_clear_error(name):
    art = Artifact("ds")
    with pytest.raises(InvalidPathError, match="bytes"), art.new_file(name) as f:
        f.write("x")
    assert art.paths() == []


def test_reference_limit_checked_before_local_blobs_are_stored(registry, tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for i in range(3):
        (refs / f"{i}.csv").write_text(str(i))
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(100))
    art = Artifact("ds")
    art.add_file(local)
    art.add_reference(f"file://{refs}", name="raw", max_objects=2)
    with pytest.raises(InvalidPathError, match="more than 2 objects"):
        registry.log(art)
    store = registry.store.path("00" * 32)
    objects = os.path.dirname(os.path.dirname(store))
    assert [f for _, _, fs in os.walk(objects) for f in fs] == []


@pytest.mark.parametrize(
    "a,b",
    [
        ("README", "readme"),
        ("Data/a.csv", "data/b.csv"),
        (
            unicodedata.normalize("NFC", "caf\u00e9.txt"),
            unicodedata.normalize("NFD", "caf\u00e9.txt"),
        ),
    ],
)
def test_case_or_normalization_collisions_refused_at_add(a, b):
    art = Artifact("ds")
    with art.new_file(a) as f:
        f.write("1")
    with pytest.raises(InvalidPathError, match="macOS and Windows") as info, art.new_file(b) as f:
        f.write("2")
    assert repr(b.split("/")[0]) in str(info.value) and isinstance(info.value, ArtiflowError)
    assert art.paths() == [a]


def test_case_collision_refused_at_log_of_a_patch(registry, tmp_path):
    from artiflow.manifest import Entry

    art = Artifact("ds")
    with art.new_file("README") as f:
        f.write("1")
    v = registry.log(art)
    draft = v.new_draft()
    # a version logged before the check existed may hold both names: patches of it are refused
    draft._sources["readme"] = Entry("readme", v.manifest.entries["README"].digest, 1)
    with pytest.raises(InvalidPathError, match="'README' and 'readme'"):
        registry.log(draft)
    assert len(registry.versions("ds")) == 1
