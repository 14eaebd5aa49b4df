"""Reading a version page by page (issue 15, memory at 1M files): ``download()`` into a new
folder, ``checkout()`` into a new folder, ``verify()`` and ``files()`` read the entries in
keyset pages (``Catalog.entry_pages``), never all rows at once, and give the same results as
one page would: every file written, every missing / changed / extra file reported.

Real SQLite and PostgreSQL, real folders; the page size is made small (``artiflow._ops.materialize.ENTRY_PAGE``) so a
few files span several pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from artiflow import Artifact, Registry
from artiflow._ops import materialize
from artiflow.exceptions import VerificationError

PAGE = 3
FILES = {f"d{i % 3}/f{i:02d}.txt": f"content {i}" for i in range(11)} | {"top.txt": "top"}


@pytest.fixture(params=["sqlite", "postgres"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "sqlite":
        r = Registry(home=tmp_path / "home")
    else:
        url = str(request.getfixturevalue("pg_url"))
        r = Registry(db_url=url, store_url=str(tmp_path / "store"))
    yield r
    r.close()


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(materialize, "ENTRY_PAGE", PAGE, raising=False)  # (old code: no pages)


def _log(reg: Registry) -> Any:
    draft = Artifact("ds", type="dataset")
    for path, text in FILES.items():
        with draft.new_file(path) as f:
            f.write(text)
    return reg.log(draft)


class EntryReads:
    """The SELECTs of the ``entries`` table run while the block runs."""

    def __init__(self, reg: Registry) -> None:
        self.engine = reg.context.catalog.engine
        self.statements: list[str] = []

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.lower().split())
        if text.startswith("select") and " from entries" in text:
            self.statements.append(text)

    def __enter__(self) -> EntryReads:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def assert_paged(self) -> None:
        pages = -(-len(FILES) // PAGE)
        assert len(self.statements) >= pages, self.statements
        assert all(" limit " in s for s in self.statements), self.statements


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            full = Path(dirpath) / f
            out[full.relative_to(root).as_posix()] = full.read_text()
    return out


def test_download_and_checkout_into_a_new_folder_read_pages(reg: Registry, tmp_path: Path) -> None:
    v = reg.get(_log(reg).ref)  # a fresh object: its entries are not loaded
    with EntryReads(reg) as reads:
        out = v.download(tmp_path / "dl")
    reads.assert_paged()
    assert _tree(out) == FILES
    v = reg.get(v.ref)
    with EntryReads(reg) as reads:
        out = v.checkout(tmp_path / "co")
    reads.assert_paged()
    assert _tree(out) == FILES
    v.verify(out)  # and the folder verifies


def test_files_are_paged_and_sorted(reg: Registry) -> None:
    v = reg.get(_log(reg).ref)
    with EntryReads(reg) as reads:
        paths = [e.path for e in v.files()]
    reads.assert_paged()
    assert paths == sorted(FILES)
    assert [len(p) for p in reg.context.catalog.entry_pages(v.id, size=5)] == [5, 5, 2]
    assert all(e.bound_version is v for e in v.files())


def test_verify_reads_pages_and_reports_every_problem(reg: Registry, tmp_path: Path) -> None:
    v = _log(reg)
    root = reg.get(v.ref).download(tmp_path / "dl")
    v = reg.get(v.ref)
    with EntryReads(reg) as reads:
        v.verify(root)  # clean: no problem, and no second pass over the entries
    reads.assert_paged()
    assert len(reads.statements) <= -(-len(FILES) // PAGE) + 1  # + the empty page after
    (root / "d0/f00.txt").unlink()  # first page
    (root / "d2/f11.txt").write_text("changed")  # not an entry of d2: an extra file
    (root / "d1/f10.txt").write_text("other")  # last page, same size: changed
    (root / "top.txt").unlink()
    (root / "top.txt").mkdir()  # a folder where a file should be, with a file in it
    (root / "top.txt" / "inner").write_text("x")
    (root / "new").mkdir()
    (root / "new" / "deep.txt").write_text("x")
    with pytest.raises(VerificationError) as info:
        reg.get(v.ref).verify(root)
    assert sorted(info.value.problems) == [
        ("changed", "d1/f10.txt"),
        ("extra", "d2/f11.txt"),
        ("extra", "new/deep.txt"),
        ("extra", "top.txt/inner"),
        ("missing", "d0/f00.txt"),
        ("missing", "top.txt"),
    ]


def test_verify_counts_a_changed_file_as_present(reg: Registry, tmp_path: Path) -> None:
    """A changed file is there (no extra to look for): reported once, as changed."""
    v = _log(reg)
    root = reg.get(v.ref).download(tmp_path / "dl")
    (root / "d0/f03.txt").write_text("a longer content than before")
    with pytest.raises(VerificationError) as info:
        reg.get(v.ref).verify(root)
    assert info.value.problems == [("changed", "d0/f03.txt")]


def test_verify_of_a_linked_folder_and_a_file_in_the_way(reg: Registry, tmp_path: Path) -> None:
    v = _log(reg)
    root = reg.get(v.ref).download(tmp_path / "dl")
    elsewhere = tmp_path / "elsewhere"
    os.rename(root / "d1", elsewhere)
    os.symlink(elsewhere, root / "d1")  # a linked folder on the way: never read through
    for f in (root / "d2").iterdir():
        f.unlink()
    (root / "d2").rmdir()
    (root / "d2").write_text("a file where a folder should be")
    with pytest.raises(VerificationError) as info:
        reg.get(v.ref).verify(root)
    d2 = sorted(p for p in FILES if p.startswith("d2/"))
    assert sorted(info.value.problems) == sorted(
        [("symlink", "d1"), ("extra", "d2")] + [("missing", p) for p in d2]
    )
