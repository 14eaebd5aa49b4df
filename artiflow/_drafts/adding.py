"""Adding content to a draft: local files and folders, files written in place, references,
the Comet spellings ``add``/``add_remote``, and removing entries again.

Example:
    >>> from artiflow import Artifact
    >>> Artifact.add_dir is DraftAdding.add_dir
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..exceptions import ConflictError, InvalidPathError
from ..manifest import claim_path, normalize_path
from .core import DraftCore
from .sources import (
    LocalSource,
    ReferenceSource,
    Source,
    asset_of,
    default_name,
    inside,
    parents_of,
    same_content,
)

__all__ = ["DraftAdding"]

log = logging.getLogger("artiflow.artifact")  # the logger of the module this came from


class DraftAdding(DraftCore):
    """``add_*``, ``new_file`` and ``remove`` (a part of :class:`~artiflow.Artifact`)."""

    def _index(self) -> dict[str, str]:
        """The folded-path index of the entries (built on first use)."""
        if self._folded is None:
            folded: dict[str, str] = {}
            what = f"the draft of {self.qualified_name!r}"
            for p in self._sources:
                claim_path(folded, p, what)
                self._dirs.update(parents_of(p))
            self._folded = folded
        return self._folded

    def _put(self, path: str, source: Source) -> None:
        old = self._sources.get(path)
        if old is not None and old != source and not same_content(old, source):
            raise ConflictError(
                f"entry {path!r} was already added with different content; remove it first or use "
                "another name"
            )
        if old is None:
            folded = self._index()
            if path in self._dirs:
                raise ConflictError(
                    f"entry {path!r} is already a folder in the draft: a path cannot be both a file and a folder"
                )
            parents = parents_of(path)
            for parent in parents:
                if parent in self._sources:
                    raise ConflictError(
                        f"entry {path!r} conflicts with {parent!r}: a path cannot be both a file and a folder"
                    )
            claim_path(folded, path, f"the draft of {self.qualified_name!r}")
            self._dirs.update(parents)
        self._sources[path] = source

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        asset_type: str | None = None,
    ) -> str:
        """Add one local file as entry ``name`` (default: its file name). Returns the entry path.

        ``metadata`` and ``asset_type`` are the entry's own (Comet's per-asset metadata),
        readable on ``version.get_entry(path)`` without downloading.

        Example:
            >>> # art.add_file("data/train.csv", name="train/train.csv", metadata={"rows": 10})
        """
        self._check_open()
        asset = asset_of(metadata, asset_type)
        p = Path(local_path)
        if not p.is_file():
            what = "is a folder: use add_dir" if p.is_dir() else "does not exist"
            raise InvalidPathError(f"cannot add file {os.fspath(local_path)!r}: it {what}")
        entry = normalize_path(name if name is not None else p.name)
        self._put(entry, LocalSource(str(p.absolute())))
        self._set_asset(entry, asset)
        return entry

    def _set_asset(self, entry: str, asset: tuple[dict[str, Any], str | None] | None) -> None:
        if asset is not None:
            self._assets[entry] = asset
        else:
            self._assets.pop(entry, None)

    def assets(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        """Entry path (or reference prefix) -> ``(metadata, asset_type)`` given when it was
        added (used by the registry when it logs the draft).

        Example:
            >>> Artifact("x").assets()
            {}
        """
        return dict(self._assets)

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        asset_type: str | None = None,
    ) -> list[str]:
        """Add every file below a folder, under the prefix ``name`` (default: the root).

        Symlinks are followed only when they point inside the folder. Returns the entry paths.
        ``metadata`` / ``asset_type`` are given to every file added.

        Example:
            >>> # art.add_dir("data/images", name="images", asset_type="images")
        """
        self._check_open()
        asset = asset_of(metadata, asset_type)
        root = Path(local_path)
        if not root.is_dir():
            what = "is a file: use add_file" if root.is_file() else "does not exist"
            raise InvalidPathError(f"cannot add folder {os.fspath(local_path)!r}: it {what}")
        prefix = normalize_path(name) + "/" if name else ""
        real_root = os.path.realpath(root)
        added: list[tuple[str, LocalSource]] = []
        abs_root = str(root.absolute())

        def walk(folder: str, rel: str, ancestors: tuple[tuple[int, int], ...]) -> None:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda e: e.name)
            for item in items:
                try:
                    if item.is_symlink() and not inside(os.path.realpath(item.path), real_root):
                        log.warning("artiflow: skipped %s: the link leaves %s", item.path, abs_root)
                        continue
                    is_dir = item.is_dir()
                    is_file = not is_dir and item.is_file()
                    st = os.stat(item.path) if is_dir else None
                except OSError as exc:
                    raise InvalidPathError(
                        f"cannot add {item.path!r} from folder {abs_root!r}: {exc.strerror or exc} "
                        "(a symlink loop?); remove the link or add the files separately"
                    ) from None
                if st is not None:
                    key = (st.st_dev, st.st_ino)
                    if key in ancestors:
                        raise InvalidPathError(
                            f"cannot add folder {abs_root!r}: {item.path!r} links back to a folder "
                            "that contains it (a symlink loop); remove the link or add the "
                            "folders separately"
                        )
                    walk(item.path, f"{rel}{item.name}/", (*ancestors, key))
                elif is_file:
                    added.append((f"{prefix}{rel}{item.name}", LocalSource(item.path)))
                elif item.is_symlink():
                    log.warning("artiflow: skipped %s: the link points to nothing", item.path)

        top = os.stat(abs_root)
        walk(abs_root, "", ((top.st_dev, top.st_ino),))
        for entry, _ in added:
            normalize_path(entry)
        for entry, source in added:  # validated all paths before changing the draft
            self._put(entry, source)
            self._set_asset(entry, asset)
        return [e for e, _ in added]

    def add(
        self,
        local_path: str | os.PathLike[str],
        logical_path: str | None = None,
        overwrite: bool = False,
        *,
        metadata: dict[str, Any] | None = None,
        asset_type: str | None = None,
    ) -> str | list[str]:
        """Comet's ``Artifact.add``: a file (:meth:`add_file`) or a folder (:meth:`add_dir`) at
        ``logical_path``; ``overwrite=True`` replaces an entry already at that path.

        Example:
            >>> # art.add("model.pkl", logical_path="models/model.pkl", metadata={"auc": 0.9})
        """
        self._check_open()
        if Path(local_path).is_dir():
            if overwrite and logical_path:
                self._discard(logical_path)
            return self.add_dir(local_path, logical_path, metadata=metadata, asset_type=asset_type)
        if overwrite:
            self._discard(logical_path if logical_path is not None else Path(local_path).name)
        return self.add_file(local_path, logical_path, metadata=metadata, asset_type=asset_type)

    def add_remote(
        self,
        uri: str,
        logical_path: str | None = None,
        overwrite: bool = False,
        asset_type: str | None = None,
        metadata: dict[str, Any] | None = None,
        sync_mode: bool = True,
        max_synced_objects: int | None = None,
    ) -> str:
        """Comet's ``Artifact.add_remote``: :meth:`add_reference` (``sync_mode=False`` records
        no checksum, ``max_synced_objects`` is ``max_objects``).

        Example:
            >>> # art.add_remote("s3://bucket/raw/", logical_path="raw", asset_type="raw-data")
        """
        self._check_open()
        if overwrite:
            self._discard(logical_path if logical_path is not None else default_name(uri))
        return self.add_reference(
            uri,
            logical_path,
            checksum=sync_mode,
            max_objects=max_synced_objects,
            metadata=metadata,
            asset_type=asset_type,
        )

    def _discard(self, name: str) -> None:
        path = normalize_path(name)
        if any(p == path or p.startswith(path + "/") for p in self._sources):
            self.remove(path)

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = None
    ) -> Iterator[IO[Any]]:
        """Write a new file into the draft: ``with art.new_file("model.json") as f: ...``.

        Example:
            >>> art = Artifact("notes", type="text")
            >>> with art.new_file("readme.txt") as f:
            ...     _ = f.write("hello")
            >>> art.paths()
            ['readme.txt']
        """
        self._check_open()
        entry = normalize_path(name)
        if entry in self._sources:
            raise ConflictError(f"entry {entry!r} already exists in the draft; remove it first")
        if self._tmpdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="artiflow-draft-")
        target = Path(self._tmpdir.name) / entry
        if "b" not in mode and encoding is None:
            encoding = "utf-8"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fh = open(target, mode, encoding=encoding)  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise InvalidPathError(
                f"cannot create entry {entry!r} in the draft: {exc.strerror or exc}; use a "
                "shorter or simpler name"
            ) from None
        with fh:
            yield fh
        self._put(entry, LocalSource(str(target)))

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        asset_type: str | None = None,
    ) -> str:
        """Record a reference to content outside the store (``file://``, ``s3://``, ``gs://``,
        ``http(s)://``) without copying it. Returns the entry path (or prefix for folders).
        ``metadata`` / ``asset_type`` go to every entry the reference expands to.

        Example:
            >>> # art.add_reference("s3://bucket/raw/2024/", name="raw", metadata={"year": 2024})
        """
        self._check_open()
        asset = asset_of(metadata, asset_type)
        if not isinstance(uri, str) or "://" not in uri:
            raise InvalidPathError(
                f"invalid reference {uri!r}: give a URI such as 'file:///data/x.csv' or 's3://bucket/key'"
            )
        scheme = uri.split("://", 1)[0].lower()
        if scheme not in ("file", "s3", "gs", "gcs", "http", "https", "memory"):
            raise InvalidPathError(f"unsupported reference scheme {scheme!r} in {uri!r}")
        if scheme == "file":
            local = Path(uri[len("file://") :])
            if not local.exists():
                raise InvalidPathError(f"reference {uri!r} does not exist")
        if max_objects is not None and max_objects < 1:
            raise InvalidPathError("max_objects must be at least 1")
        entry = normalize_path(name if name is not None else default_name(uri))
        self._put(entry, ReferenceSource(uri, checksum, max_objects))
        self._set_asset(entry, asset)
        return entry

    def remove(self, name: str) -> None:
        """Remove an entry, or every entry under a folder prefix.

        Example:
            >>> art = Artifact("x")
            >>> art.remove("missing")
            Traceback (most recent call last):
            ...
            artiflow.exceptions.InvalidPathError: entry 'missing' is not in the draft of 'x'
        """
        self._check_open()
        path = normalize_path(name.rstrip("/") if isinstance(name, str) and name != "/" else name)
        hits = [p for p in self._sources if p == path or p.startswith(path + "/")]
        if not hits:
            raise InvalidPathError(f"entry {path!r} is not in the draft of {self.qualified_name!r}")
        for p in hits:
            del self._sources[p]
            self._assets.pop(p, None)
        self._dirs = {d for p in self._sources for d in parents_of(p)}
        self._folded = None
