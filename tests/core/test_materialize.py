"""Downloads and checkouts never escape their folder (issue 11, items 8, 9 and part of 11).

Real file systems only: real symbolic links, real files in the way, a real current folder and
home. Each test also checks that nothing was written (or deleted) where it must not be.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from artiflow import Artifact, Registry
from artiflow.exceptions import ArtiflowError, InvalidPathError, StoreError, VerificationError


def _version(registry: Registry, files: dict[str, str], name: str = "ds") -> object:
    draft = Artifact(name, type="dataset")
    for path, text in files.items():
        with draft.new_file(path) as f:
            f.write(text)
    return registry.log(draft)


def _tree(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` (links not followed) -> its content or link target."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, folder)
            if os.path.islink(full):
                out[rel] = "-> " + os.readlink(full)
            else:
                out[rel] = Path(full).read_bytes().decode(errors="replace")
    return out


def _problems(version: object, root: Path) -> list[tuple[str, str]]:
    with pytest.raises(VerificationError) as info:
        version.verify(root)  # type: ignore[attr-defined]
    return sorted(info.value.problems)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every root, holding one file that must never change."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    return folder


# ---- item 8: symbolic links ------------------------------------------------------------------
def test_download_refuses_a_linked_folder_out_of_the_root(
    registry: Registry, tmp_path: Path, outside: Path
) -> None:
    v = _version(registry, {"a.txt": "alpha", "sub/x.txt": "x"})
    root = tmp_path / "root"
    root.mkdir()
    (root / "sub").symlink_to(outside)
    with pytest.raises(InvalidPathError, match=r"'sub' is a symbolic link") as info:
        v.download(root)  # type: ignore[attr-defined]
    assert str(outside) in str(info.value) and "checkout()" in str(info.value)
    assert _tree(outside) == {"keep.txt": "precious"}  # nothing landed outside the root
    assert _tree(root) == {"sub": f"-> {outside}"}  # and nothing was half-written inside it
    with pytest.raises(InvalidPathError, match="symbolic link"):
        v.get_path("sub/x.txt").download(root)  # type: ignore[attr-defined]
    assert _tree(outside) == {"keep.txt": "precious"}


def test_download_refuses_a_link_deeper_down_and_one_pointing_inside_the_root(
    registry: Registry, tmp_path: Path, outside: Path
) -> None:
    v = _version(registry, {"a/b/c/x.txt": "x", "a/y.txt": "y"})
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").symlink_to(outside)
    with pytest.raises(InvalidPathError, match=r"'a/b' is a symbolic link"):
        v.download(root)  # type: ignore[attr-defined]
    assert _tree(outside) == {"keep.txt": "precious"}
    assert not (root / "a" / "y.txt").exists()
    # a link to another folder of the root is refused too: download writes only where it says
    (root / "a" / "b").unlink()
    (root / "other").mkdir()
    (root / "a" / "b").symlink_to(root / "other")
    with pytest.raises(InvalidPathError, match=r"'a/b' is a symbolic link"):
        v.download(root)  # type: ignore[attr-defined]
    assert list((root / "other").iterdir()) == []


def test_checkout_replaces_a_linked_folder_and_verify_passes_right_after(
    registry: Registry, tmp_path: Path, outside: Path
) -> None:
    v = _version(registry, {"a.txt": "alpha", "sub/x.txt": "x"})
    root = tmp_path / "root"
    root.mkdir()
    (root / "sub").symlink_to(outside)
    v.checkout(root)  # type: ignore[attr-defined]
    assert not (root / "sub").is_symlink() and (root / "sub" / "x.txt").read_text() == "x"
    assert _tree(outside) == {"keep.txt": "precious"}  # the link went, never what it points to
    v.verify(root)  # type: ignore[attr-defined]


def test_verify_reports_a_linked_folder_and_never_reads_through_it(
    registry: Registry, tmp_path: Path, outside: Path
) -> None:
    v = _version(registry, {"a.txt": "alpha", "sub/x.txt": "x", "sub/y.txt": "y"})
    root = tmp_path / "root"
    v.download(root)  # type: ignore[attr-defined]
    (outside / "x.txt").write_text("x")
    (outside / "y.txt").write_text("y")
    os.remove(outside / "keep.txt")
    for f in (root / "sub").iterdir():
        f.unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside)  # the right content, but outside the root
    assert _problems(v, root) == [("symlink", "sub")]
    # a linked folder no entry needs is extra (checkout removes it)
    (root / "sub").unlink()
    v.checkout(root)  # type: ignore[attr-defined]
    (root / "spare").symlink_to(outside)
    assert _problems(v, root) == [("extra", "spare")]
    v.checkout(root)  # type: ignore[attr-defined]
    v.verify(root)  # type: ignore[attr-defined]
    assert (outside / "x.txt").read_text() == "x"


def test_linked_files_are_replaced_never_written_through(
    registry: Registry, tmp_path: Path, outside: Path
) -> None:
    v = _version(registry, {"a.txt": "alpha", "b.txt": "beta"})
    root = tmp_path / "root"
    root.mkdir()
    (outside / "a.txt").write_text("alpha")  # the right content, through a link out of the root
    (root / "a.txt").symlink_to(outside / "a.txt")
    (root / "b.txt").symlink_to(outside / "keep.txt")  # the wrong content
    assert _problems(v, root) == [("symlink", "a.txt"), ("symlink", "b.txt")]
    v.download(root)  # type: ignore[attr-defined]
    assert not (root / "a.txt").is_symlink() and not (root / "b.txt").is_symlink()
    assert (root / "b.txt").read_text() == "beta"
    assert _tree(outside) == {"keep.txt": "precious", "a.txt": "alpha"}
    v.verify(root)  # type: ignore[attr-defined]
    (root / "b.txt").unlink()
    (root / "b.txt").symlink_to(outside / "keep.txt")
    v.checkout(root)  # type: ignore[attr-defined]
    v.verify(root)  # type: ignore[attr-defined]
    assert _tree(outside) == {"keep.txt": "precious", "a.txt": "alpha"}


def test_links_into_the_store_made_by_link_type_symlink_verify(tmp_path: Path) -> None:
    with Registry(home=tmp_path / "home", link_type="symlink") as registry:
        v = _version(registry, {"a.txt": "alpha", "sub/b.txt": "beta"})
        root = tmp_path / "root"
        v.download(root)  # type: ignore[attr-defined]
        assert (root / "sub" / "b.txt").is_symlink()
        v.verify(root)  # type: ignore[attr-defined]
        v.download(root)  # type: ignore[attr-defined]
        v.checkout(root)  # type: ignore[attr-defined]
        v.verify(root)  # type: ignore[attr-defined]


def test_a_root_that_is_a_link_to_a_folder_is_followed(registry: Registry, tmp_path: Path) -> None:
    v = _version(registry, {"a.txt": "alpha", "sub/x.txt": "x"})
    real = tmp_path / "real"
    real.mkdir()
    (real / "extra.txt").write_text("x")
    link = tmp_path / "root"
    link.symlink_to(real)
    assert v.download(link) == link.absolute()  # type: ignore[attr-defined]
    assert (real / "sub" / "x.txt").read_text() == "x"
    v.checkout(link)  # type: ignore[attr-defined]
    assert link.is_symlink() and not (real / "extra.txt").exists()
    v.verify(link)  # type: ignore[attr-defined]


def test_a_root_that_is_a_dangling_link_is_refused(registry: Registry, tmp_path: Path) -> None:
    v = _version(registry, {"a.txt": "alpha"})
    link = tmp_path / "root"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(InvalidPathError, match="does not exist"):
        v.download(link)  # type: ignore[attr-defined]
    with pytest.raises(InvalidPathError, match="does not exist"):
        v.checkout(link)  # type: ignore[attr-defined]
    assert not (tmp_path / "nowhere").exists() and link.is_symlink()


# ---- item 11 (part): a file where the manifest needs a folder, and the reverse -------------
@pytest.mark.parametrize(
    ("blocker", "entry"), [("sub", "sub/x.txt"), ("a", "a/b/c/x.txt")], ids=["parent", "deeper"]
)
def test_a_file_where_a_folder_is_needed(
    registry: Registry, tmp_path: Path, blocker: str, entry: str
) -> None:
    v = _version(registry, {"0.txt": "zero", entry: "x"})
    root = tmp_path / "root"
    root.mkdir()
    (root / blocker).write_text("in the way")
    with pytest.raises(
        StoreError, match=rf"{blocker!r} is a file where the version needs a folder"
    ):
        v.download(root)  # type: ignore[attr-defined]
    assert _tree(root) == {blocker: "in the way"}  # nothing half-written
    with pytest.raises(ArtiflowError) as info:
        v.get_path(entry).download(root)  # type: ignore[attr-defined]
    assert isinstance(info.value, OSError)  # still an OSError, as the raw error was
    # checkout removes the file (it is not in the version) and writes the folder
    v.checkout(root)  # type: ignore[attr-defined]
    v.verify(root)  # type: ignore[attr-defined]


def test_a_folder_where_a_file_is_needed(registry: Registry, tmp_path: Path) -> None:
    v = _version(registry, {"a.txt": "alpha", "x.txt": "x"})
    root = tmp_path / "root"
    (root / "x.txt" / "deep").mkdir(parents=True)
    (root / "x.txt" / "deep" / "f").write_text("in the way")
    with pytest.raises(StoreError, match="'x.txt' under .*a folder is in the way"):
        v.download(root)  # type: ignore[attr-defined]
    assert not (root / "a.txt").exists()  # validated before anything was written
    v.checkout(root)  # type: ignore[attr-defined]
    v.verify(root)  # type: ignore[attr-defined]


def test_a_root_that_is_a_file_or_below_one(registry: Registry, tmp_path: Path) -> None:
    v = _version(registry, {"a.txt": "alpha"})
    (tmp_path / "f").write_text("a file")
    with pytest.raises(StoreError, match="it is a file, not a folder"):
        v.download(tmp_path / "f")  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match=r"'.*/f' is a file, not a folder"):
        v.download(tmp_path / "f" / "deeper" / "root")  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match="is a file"):
        v.checkout(tmp_path / "f")  # type: ignore[attr-defined]
    assert (tmp_path / "f").read_text() == "a file"


# ---- item 9: folders a checkout must never clear -------------------------------------------
@pytest.fixture
def cwd(tmp_path: Path) -> Iterator[Path]:
    old = os.getcwd()
    here = tmp_path / "project" / "work"
    here.mkdir(parents=True)
    os.chdir(here)
    try:
        yield here
    finally:
        os.chdir(old)


def test_checkout_refuses_the_file_system_root(registry: Registry, tmp_path: Path) -> None:
    v = _version(registry, {"artiflow-test-never-written.txt": "x"})
    # a version whose blob is gone: even a checkout without the guard stops before deleting
    os.remove(registry.store.path(v.get_path("artiflow-test-never-written.txt").digest))  # type: ignore[attr-defined]
    with pytest.raises(InvalidPathError, match="file-system root"):
        v.checkout("/")  # type: ignore[attr-defined]
    assert not os.path.lexists("/artiflow-test-never-written.txt")


def test_checkout_refuses_home_and_what_holds_it(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = _version(registry, {"a.txt": "alpha"})
    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    (home / "thesis.tex").write_text("years of work")
    monkeypatch.setenv("HOME", str(home))
    for root in (home, tmp_path / "users"):
        with pytest.raises(InvalidPathError, match="home") as info:
            v.checkout(root)  # type: ignore[attr-defined]
        assert "download()" in str(info.value)
    link = tmp_path / "innocent"
    link.symlink_to(home)  # a link to home is home
    with pytest.raises(InvalidPathError, match="your home folder"):
        v.checkout(link)  # type: ignore[attr-defined]
    assert _tree(home) == {"thesis.tex": "years of work"}
    v.checkout(home / "data")  # a folder of its own inside home is fine
    v.verify(home / "data")  # type: ignore[attr-defined]


def test_checkout_refuses_a_folder_holding_the_current_folder(
    registry: Registry, cwd: Path
) -> None:
    v = _version(registry, {"a.txt": "alpha"})
    (cwd / "code.py").write_text("print(1)")
    (cwd.parent / "README").write_text("r")
    for root in (cwd.parent, "..", cwd.parent.parent):
        with pytest.raises(InvalidPathError, match="holds the current folder"):
            v.checkout(root)  # type: ignore[attr-defined]
    assert _tree(cwd.parent) == {"README": "r", "work/code.py": "print(1)"}


def test_checkout_into_the_current_folder_only_when_it_deletes_nothing(
    registry: Registry, cwd: Path
) -> None:
    v0 = _version(registry, {"a.txt": "alpha", "sub/b.txt": "beta"})
    v0.checkout(".")  # type: ignore[attr-defined]
    v0.verify(".")  # type: ignore[attr-defined]
    (cwd / "a.txt").write_text("edited")
    v0.checkout(".")  # type: ignore[attr-defined]  # repairs, deletes nothing
    assert (cwd / "a.txt").read_text() == "alpha"
    (cwd / "code.py").write_text("print(1)")
    with pytest.raises(InvalidPathError, match=r"would delete 'code.py'"):
        v0.checkout(".")  # type: ignore[attr-defined]
    with pytest.raises(InvalidPathError, match="current folder"):
        v0.checkout(cwd)  # type: ignore[attr-defined]
    assert (cwd / "code.py").read_text() == "print(1)"
    v0.download(".")  # type: ignore[attr-defined]  # download never deletes: always allowed


def test_checkout_refuses_the_registry_home_store_database_and_cache(tmp_path: Path) -> None:
    store = tmp_path / "shared" / "objects"
    with Registry(home=tmp_path / "reg", store_url=str(store)) as registry:
        v = _version(registry, {"a.txt": "alpha"})
        cache = registry.settings.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        before = _tree(tmp_path)
        refused = {
            tmp_path: "holds the registry's home",
            tmp_path / "reg": "holds the registry's home",
            store: "holds the registry's store",
            tmp_path / "shared": "holds the registry's store",
            store / "ab": "inside the registry's store",
            cache: "holds the registry's download cache",
            cache / "x": "inside the registry's download cache",
        }
        for root, why in refused.items():
            with pytest.raises(InvalidPathError, match=why):
                v.checkout(root)  # type: ignore[attr-defined]
        assert _tree(tmp_path) == before
        db_dir = tmp_path / "db"
        with Registry(
            home=tmp_path / "h2", db_url=f"sqlite:///{db_dir / 'r.db'}", store_url=str(store)
        ) as other:
            w = _version(other, {"a.txt": "alpha"})
            with pytest.raises(InvalidPathError, match="registry's database"):
                w.checkout(db_dir)  # type: ignore[attr-defined]
        v.checkout(tmp_path / "reg" / "checkouts" / "ds")  # beside, not holding: fine
