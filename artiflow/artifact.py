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

from .exceptions import ArtifactFinalizedError, ConflictError, InvalidPathError, InvalidRefError
from .hashing import hash_file
from .limits import validate_text
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
    """

    def __init__(
        self,
        name: str,
        type: str = "dataset",
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
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

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None) -> str:
        """Add one local file as entry ``name`` (default: its file name). Returns the entry path.

        Example:
            >>> # art.add_file("data/train.csv", name="train/train.csv")
        """
        self._check_open()
        p = Path(local_path)
        if not p.is_file():
            what = "is a folder: use add_dir" if p.is_dir() else "does not exist"
            raise InvalidPathError(f"cannot add file {os.fspath(local_path)!r}: it {what}")
        entry = normalize_path(name if name is not None else p.name)
        self._put(entry, LocalSource(str(p.absolute())))
        return entry

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None) -> list[str]:
        """Add every file below a folder, under the prefix ``name`` (default: the root).

        Symlinks are followed only when they point inside the folder. Returns the entry paths.

        Example:
            >>> # art.add_dir("data/images", name="images")
        """
        self._check_open()
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
        return [e for e, _ in added]

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
    ) -> str:
        """Record a reference to content outside the store (``file://``, ``s3://``, ``gs://``,
        ``http(s)://``) without copying it. Returns the entry path (or prefix for folders).

        Example:
            >>> # art.add_reference("s3://bucket/raw/2024/", name="raw")
        """
        self._check_open()
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
        default = uri.rstrip("/").rsplit("/", 1)[-1] or "reference"
        entry = normalize_path(name if name is not None else default)
        self._put(entry, ReferenceSource(uri, checksum, max_objects))
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
        self._dirs = {d for p in self._sources for d in _parents(p)}
        self._folded = None

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
