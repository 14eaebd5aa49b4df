"""Several test folders run in one pytest call (``pytest tests/core tests/ui``): pytest puts every
test folder on ``sys.path`` and loads each folder's conftest.py as the module ``conftest``, so a
test that imports ``conftest`` gets whichever folder's conftest came last, and two test-folder
modules with the same file name shadow each other. Shared helpers live in modules of their own
with names unique across tests/ (e.g. tests/scale/_scale_services.py).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "dag_files" not in p.parts)


def test_no_test_module_imports_a_conftest() -> None:
    bad = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bad += [
                f"{path.relative_to(TESTS)}:{node.lineno}"
                for n in names
                if n.split(".")[0] == "conftest"
            ]
    assert not bad, f"import the helper module instead of conftest: {bad}"


def test_test_folder_module_names_are_unique() -> None:
    """Outside packages, a module's name is its file name: two ``x.py`` in two test folders
    would be one module ``x`` when both folders are collected."""
    where: dict[str, list[str]] = defaultdict(list)
    for path in _modules():
        if path.name != "conftest.py" and not (path.parent / "__init__.py").exists():
            where[path.stem].append(str(path.relative_to(TESTS)))
    assert {k: v for k, v in where.items() if len(v) > 1} == {}
