"""The small draft the core tests log (a helper module, not a test)."""

from __future__ import annotations

from typing import Any

from artiflow import Artifact


def draft(
    name: str = "ds", type: str = "dataset", files: dict[str, str] | None = None, **kw: Any
) -> Artifact:
    """A draft ``name`` holding ``files`` (default one file ``a.txt``)."""
    art = Artifact(name, type=type, **kw)
    for path, text in (files or {"a.txt": "alpha"}).items():
        with art.new_file(path) as f:
            f.write(text)
    return art
