"""One-call helpers in the manner of DVCLive.

Example:
    >>> # v = artiflow.log_artifact("data/train.csv", type="dataset", labels=["raw"])
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from .artifact import Artifact
from .exceptions import InvalidPathError
from .registry import Registry
from .version import ArtifactVersion

__all__ = ["log_artifact"]


def _default_name(path: Path) -> str:
    stem = path.name if path.is_dir() else path.stem or path.name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "artifact"
    return name[:128]


def log_artifact(
    path: str | os.PathLike[str],
    type: str | None = None,
    name: str | None = None,
    desc: str | None = None,
    labels: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    copy: bool = False,
    cache: bool = True,
    *,
    registry: Registry | None = None,
    aliases: list[str] | None = None,
) -> ArtifactVersion:
    """Log a file or folder as a new version of ``name`` (default: the file's stem) in one call.

    ``labels`` become tags. With ``cache=False`` the content is not stored: a ``file://``
    reference with its checksum is recorded instead; ``copy=True`` then first copies the path
    under ``$ARTIFLOW_HOME/files/`` so later edits of the original cannot invalidate the record.
    ``type`` defaults to the collection's existing type, else ``dataset``.

    Example:
        >>> import tempfile, os
        >>> home = tempfile.mkdtemp(); p = os.path.join(home, "scores.json")
        >>> _ = open(p, "w").write("{}")
        >>> log_artifact(p, registry=Registry(home=home)).ref
        'default/scores:v0'
    """
    src = Path(path)
    if not src.exists():
        raise InvalidPathError(f"cannot log {os.fspath(path)!r}: it does not exist")
    reg = registry or Registry()
    artifact_name = name or _default_name(src)
    if type is None:
        found = reg.catalog.collection(*_split(reg, artifact_name))
        type = found.type if found is not None else "dataset"
    art = Artifact(artifact_name, type=type, description=desc, metadata=meta)
    if cache:
        if src.is_dir():
            art.add_dir(src)
        else:
            art.add_file(src)
    else:
        target = src.absolute()
        if copy:
            dest_root = reg.settings.home / "files" / artifact_name
            dest_root.mkdir(parents=True, exist_ok=True)
            target = dest_root / src.name
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                shutil.copy2(src, target)
        art.add_reference(f"file://{target}", name=src.name)
    return reg.log(art, aliases=aliases or (), tags=labels or ())


def _split(reg: Registry, name: str) -> tuple[str, str]:
    if "/" in name:
        project, _, bare = name.partition("/")
        return project, bare
    return reg.default_project, name
