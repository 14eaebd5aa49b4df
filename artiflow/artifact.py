"""``Artifact``: a mutable draft of files, folders and references, logged into a version.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "train.csv")
    >>> _ = open(p, "w").write("a,b\\n1,2\\n")
    >>> art = Artifact("bike-dataset", type="dataset")
    >>> art.add_file(p)
    'train.csv'
    >>> sorted(art.paths())
    ['train.csv']
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .exceptions import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidPathError,
    InvalidRefError,
)
from .hashing import hash_file
from .limits import validate_json, validate_text
from .manifest import Entry, claim_path, normalize_path
from .refs import validate_name

__all__ = ["Artifact", "LocalSource", "ReferenceSource", "patch_draft"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalSource:
    """A local file to be stored (hashed at log time, or known from a previous version)."""

    path: str  # absolute local path


@dataclass(frozen=True)
class ReferenceSource:
    """A reference to content outside the store, resolved at log time."""

    uri: str
    checksum: bool = True
    max_objects: int | None = None


Source = LocalSource | ReferenceSource | Entry


def _split_name(name: str) -> tuple[str | None, str]:
    if not isinstance(name, str):
        raise InvalidRefError(
            f"invalid artifact name {name!r}: give a string such as 'bike-dataset'"
        )
    if "/" in name:
        project, _, bare = name.partition("/")
        return validate_name(project, "project"), validate_name(bare, "artifact name")
    if ":" in name:
        raise InvalidRefError(
            f"invalid artifact name {name!r}: a draft has no selector; log it and pass aliases=[...]"
        )
    return None, validate_name(name, "artifact name")


class Artifact:
    """A draft artifact: add content, then ``Registry.log(artifact)``.

    ``name`` may carry a project (``"team/model"``). Entry paths are relative POSIX paths.
    ``aliases`` and ``version_tags`` (Comet's spellings; ``tags`` too) are applied when the
    draft is logged, together with those given to ``log``. ``artifact_type`` is Comet's name
    for ``type``.
    """

    def __init__(
        self,
        name: str,
        type: str = "dataset",
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        aliases: list[str] | tuple[str, ...] | None = None,
        version_tags: list[str] | tuple[str, ...] | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        artifact_type: str | None = None,
    ) -> None:
        if artifact_type is not None:
            if type not in ("dataset", artifact_type):
                raise InvalidRefError(
                    f"type {type!r} and artifact_type {artifact_type!r} differ: give one of them"
                )
            type = artifact_type
        self.project, self.name = _split_name(name)
        if not isinstance(type, str) or not type.strip():
            raise InvalidRefError(
                f"invalid artifact type {type!r}: give a non-empty string like 'dataset'"
            )
        validate_text("type", type)
        validate_text("description", description)
        self.type = type
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._sources: dict[str, Source] = {}
        self._dirs: set[str] = set()  # every folder that holds an entry (file/folder conflicts)
        # case/NFC-folded path -> path, for every entry and folder (None: rebuild on next add,
        # e.g. after remove() or when new_draft() filled _sources directly)
        self._folded: dict[str, str] | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._logged: Any = None  # the ArtifactVersion once logged
        self.base: Any = None  # the version a patch draft started from
        # entry path (or reference prefix) -> (its own metadata, its asset type)
        self._assets: dict[str, tuple[dict[str, Any], str | None]] = {}
        #: applied at log time with the aliases and tags given to ``log``
        self.aliases: list[str] = _labels(aliases)
        labels = [*_labels(version_tags), *_labels(tags)]
        self.version_tags: list[str] = list(dict.fromkeys(labels))

    def __repr__(self) -> str:
        return (
            f"Artifact({self.qualified_name!r}, type={self.type!r}, entries={len(self._sources)})"
        )

    @property
    def qualified_name(self) -> str:
        """``project/name`` when a project was given, else the name."""
        return f"{self.project}/{self.name}" if self.project else self.name

    def ensure_open(self) -> None:
        """Raise :class:`ArtifactFinalizedError` if this draft was logged already (a draft
        becomes one version; start a new draft, or ``version.new_draft()``, to change it).

        Example:
            >>> Artifact("ds").ensure_open()
        """
        self._check_open()

    def mark_logged(self, result: Any) -> None:
        """Record what this draft became (a version, or a pending collaborative version: any
        object with a ``ref``) and release its temporary folder; later edits raise. The
        registry calls this when it commits the draft.

        Example:
            >>> # registry.log(draft) calls draft.mark_logged(version)
        """
        self._finalize(result)

    def _check_open(self) -> None:
        if self._logged is not None:
            raise ArtifactFinalizedError(
                f"draft {self.qualified_name!r} was already logged as {self._logged.ref}; start a new "
                "draft (or version.new_draft()) to change it"
            )

    def paths(self) -> list[str]:
        """The entry paths of the draft."""
        return list(self._sources)

    def sources(self) -> dict[str, Source]:
        """Entry path -> what will be stored (used by the registry)."""
        return dict(self._sources)

    def _index(self) -> dict[str, str]:
        """The folded-path index of the entries (built on first use)."""
        if self._folded is None:
            folded: dict[str, str] = {}
            what = f"the draft of {self.qualified_name!r}"
            for p in self._sources:
                claim_path(folded, p, what)
                self._dirs.update(_parents(p))
            self._folded = folded
        return self._folded

    def _put(self, path: str, source: Source) -> None:
        old = self._sources.get(path)
        if old is not None and old != source and not _same_content(old, source):
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
            parents = _parents(path)
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
        asset = _asset(metadata, asset_type)
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
        asset = _asset(metadata, asset_type)
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
                    if item.is_symlink() and not _inside(os.path.realpath(item.path), real_root):
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
            self._discard(logical_path if logical_path is not None else _default_name(uri))
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
        asset = _asset(metadata, asset_type)
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
        entry = normalize_path(name if name is not None else _default_name(uri))
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
        self._dirs = {d for p in self._sources for d in _parents(p)}
        self._folded = None

    # ---- W&B spellings on a draft --------------------------------------------------------
    def is_draft(self) -> bool:
        """True until the draft is logged (W&B's ``is_draft()``).

        Example:
            >>> Artifact("x").is_draft()
            True
        """
        return self._logged is None

    @property
    def entity(self) -> str | None:
        """The project (W&B's ``entity``); None until logged when no project was given."""
        if self._logged is not None and hasattr(self._logged, "project"):
            return str(self._logged.project)
        return self.project

    def wait(self, timeout: float | None = None) -> Any:
        """The version this draft became (W&B's ``wait()``: logging here is synchronous, so
        there is nothing to wait for). Raises :class:`ArtifactNotFoundError` before the log.

        Example:
            >>> # registry.log(draft); draft.wait().version
        """
        if self._logged is None:
            raise ArtifactNotFoundError(
                f"draft {self.qualified_name!r} is not logged yet: call registry.log(draft) "
                "first (it returns the version; there is nothing to wait for)"
            )
        return self._logged

    def get_entry(self, name: str) -> Source:
        """What the draft holds at entry ``name`` (a local file, a reference or a carried
        entry); :class:`ArtifactNotFoundError` when absent.

        Example:
            >>> Artifact("x").get_entry("a.csv")
            Traceback (most recent call last):
            ...
            artiflow.exceptions.ArtifactNotFoundError: the draft of 'x' has no entry 'a.csv'; it has 0 entries (see draft.paths())
        """
        source = self._sources.get(name)
        if source is None:
            raise ArtifactNotFoundError(
                f"the draft of {self.qualified_name!r} has no entry {name!r}; it has "
                f"{len(self._sources)} entries (see draft.paths())"
            )
        return source

    get = get_entry
    __getitem__ = get_entry

    def _finalize(self, version: Any) -> None:
        self._logged = version
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __del__(self) -> None:
        tmp = getattr(self, "_tmpdir", None)
        if tmp is not None:
            with contextlib.suppress(Exception):
                shutil.rmtree(tmp.name, ignore_errors=True)


def _labels(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())


def _default_name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] or "reference"


def _asset(
    metadata: dict[str, Any] | None, asset_type: str | None
) -> tuple[dict[str, Any], str | None] | None:
    """An entry's own metadata and asset type, validated (None: the entry has neither)."""
    meta = validate_json("asset metadata", metadata)
    if asset_type is not None:
        if not isinstance(asset_type, str) or not asset_type.strip():
            raise InvalidRefError(
                f"invalid asset_type {asset_type!r}: give a non-empty string like 'model-element'"
            )
        validate_text("type", asset_type)
    return (meta, asset_type) if meta or asset_type is not None else None


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _same_content(a: Source, b: Source) -> bool:
    if isinstance(a, LocalSource) and isinstance(b, LocalSource):
        if os.path.realpath(a.path) == os.path.realpath(b.path):
            return True
        if os.path.getsize(a.path) != os.path.getsize(b.path):
            return False
        return hash_file(a.path)[0] == hash_file(b.path)[0]
    if isinstance(a, Entry) and isinstance(b, LocalSource):
        return a.ref is None and a.digest == hash_file(b.path)[0]
    if isinstance(b, Entry) and isinstance(a, LocalSource):
        return _same_content(b, a)
    return False


def patch_draft(version: Any) -> Artifact:
    """A draft pre-filled with ``version``'s entries and metadata (what
    :meth:`ArtifactVersion.new_draft` returns): add/remove, then log a patch.

    Example:
        >>> # draft = patch_draft(registry.get("ds:latest")); draft.remove("old.csv")
    """
    draft = Artifact(
        f"{version.project}/{version.collection}",
        type=version.type,
        description=version.description,
        metadata=dict(version.metadata),
    )
    for path, entry in version.manifest.entries.items():
        draft._sources[path] = Entry(path, entry.digest, entry.size, entry.ref, dict(entry.extra))
    draft.base = version
    return draft
