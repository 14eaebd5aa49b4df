"""``ArtifactVersion``: a logged, immutable version (its editable labels aside).

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> registry = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("bike-dataset")
    >>> with draft.new_file("rows.csv") as f:
    ...     _ = f.write("a,b")
    >>> v = registry.log(draft)
    >>> v.aliases.append("production"); _ = v.save()
    >>> registry.get("bike-dataset:production").version
    'v0'
    >>> (v.download(tempfile.mkdtemp()) / "rows.csv").read_text()
    'a,b'
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from . import serialize
from ._context import RegistryContext, context_of
from ._ops import policy as _policy
from ._ops import quarantine as _quarantine
from .exceptions import (
    ArtifactNotFoundError,
    InvalidPathError,
    InvalidRefError,
    StoreError,
    VerificationError,
)
from .hashing import CHUNK, hash_stream, new_hasher
from .manifest import Entry, Manifest
from .refs import LATEST, validate_alias, validate_name
from .semver import SemVer

if TYPE_CHECKING:
    from .artifact import Artifact
    from .catalog import LabelEdit, VersionRow
    from .config import Settings
    from .registry import Registry
    from .runs import Run
    from .store import BlobStore

__all__ = ["ArtifactVersion"]


SPOOL_LIMIT = 64 * 1024 * 1024  # default of ARTIFLOW_VERIFY_SPOOL_BYTES
_SPOOL_MEMORY = 8 * 1024 * 1024  # a spool larger than this rolls over to a temporary file


def spool_limit() -> int:
    """Up to this size (``ARTIFLOW_VERIFY_SPOOL_BYTES``, default 64 MiB) :meth:`ArtifactVersion.open`
    reads a stored file whole and verifies it before handing out its first byte.

    Example:
        >>> spool_limit() >= 0
        True
    """
    raw = os.environ.get("ARTIFLOW_VERIFY_SPOOL_BYTES", "")
    if not raw:
        return SPOOL_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidPathError(
            f"ARTIFLOW_VERIFY_SPOOL_BYTES={raw!r} is not a size in bytes; set it to e.g. "
            f"{SPOOL_LIMIT} (64 MiB)"
        )
    return value


class _VerifiedReader(io.RawIOBase):
    """A read-only stream over content that was verified whole before it was opened, hashed
    again as it is read: a :class:`VerificationError` at the end says the file changed after its
    check (see :meth:`ArtifactVersion.open`)."""

    def __init__(self, raw: BinaryIO, digest: str, path: str) -> None:
        self._raw = raw
        self._digest = digest
        self._path = path
        self._hasher = new_hasher()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        if n == 0:
            if not self._done:
                self._done = True
                if self._hasher.hexdigest() != self._digest:
                    raise VerificationError(
                        f"entry {self._path!r}: its stored content changed while it was read "
                        f"(it no longer matches digest {self._digest}); do not use what was read",
                        [("changed", self._path)],
                    )
            return 0
        buffer[:n] = data
        self._hasher.update(data)
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()
        super().close()


def _spooled(store: BlobStore, digest: str, size: int | None, path: str) -> BinaryIO:
    """The stored blob read whole into a private spool (memory, then a temporary file) and
    verified: corrupt content raises here, before anything is handed out."""
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115 - returned
    limit = None if size is None else size + 1  # one byte more: a longer blob fails at once
    try:
        hasher, total = new_hasher(), 0
        with store.open(digest) as fh:
            while limit is None or total < limit:
                chunk = fh.read(CHUNK if limit is None else min(CHUNK, limit - total))
                if not chunk:
                    break
                hasher.update(chunk)
                spool.write(chunk)
                total += len(chunk)
        found = hasher.hexdigest()
        if found != digest:
            raise store.corrupt_error(digest, found)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool  # type: ignore[return-value]


def _prechecked(ctx: RegistryContext, digest: str, path: str) -> BinaryIO:
    """A large blob as a local file (the store's, or the download cache's verified copy for an
    object store) hashed whole once before it is handed out, then streamed from the same open
    file and hashed again (:class:`_VerifiedReader`)."""
    from ._ops.materialize import local_blob
    from .store import corrupt_local, missing_message

    store = ctx.store
    blob = store.path(digest) if store.is_local else local_blob(ctx, digest)
    try:
        fh = open(blob, "rb")  # noqa: SIM115 - returned
    except FileNotFoundError:
        raise StoreError(missing_message(digest, store.url)) from None
    try:
        found, _ = hash_stream(fh)
        if found != digest:
            raise corrupt_local(
                blob, digest, store.url if store.is_local else str(Path(blob).parents[1])
            )
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return io.BufferedReader(_VerifiedReader(fh, digest, path))  # type: ignore[return-value]


class _Cleanup(io.BufferedReader):
    """An open file whose temporary folder goes away when it is closed."""

    def __init__(self, raw: io.FileIO, folder: Path) -> None:
        super().__init__(raw)
        self._folder = folder

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._folder, ignore_errors=True)


class ArtifactVersion:
    """A committed version of a collection. Content is immutable; ``description``,
    ``metadata``, ``tags`` and ``aliases`` can be edited and persisted with :meth:`save`.

    ``registry``: the :class:`~artiflow.Registry` (or its context) the version belongs to."""

    def __init__(self, registry: Registry | RegistryContext, row: VersionRow) -> None:
        self._ctx = context_of(registry)
        self._row = row
        self._manifest: Manifest | None = None
        self.description: str | None = None
        self.metadata: dict[str, Any] = {}
        self.tags: list[str] = []
        self.aliases: list[str] = []
        self._refresh(row)
        self.local_path: Path | None = None

    # ---- identity ----------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings of the registry this version belongs to (its store URL and storage
        options reach the references of its entries)."""
        return self._ctx.settings

    @property
    def record(self) -> VersionRow:
        """The catalog record this object was loaded from (frozen; edits are not in it)."""
        return self._row

    @property
    def id(self) -> int:
        """Database id (stable within one registry)."""
        return self._row.id

    @property
    def project(self) -> str:
        return self._row.project

    @property
    def collection_name(self) -> str:
        """The collection (artifact) name without its project: ``"bike-dataset"`` (W&B's
        ``artifact.collection.name``; :attr:`full_name` has the project)."""
        return self._row.name

    @property
    def full_name(self) -> str:
        """``"project/name"``: the collection with its project, what ``Ref.full_name`` is."""
        return f"{self._row.project}/{self._row.name}"

    #: the older spellings of :attr:`collection_name` (kept working)
    collection = collection_name
    name = collection_name

    @property
    def type(self) -> str:
        return self._row.type

    @property
    def index(self) -> int:
        assert self._row.index is not None
        return self._row.index

    @property
    def version(self) -> str:
        """``"v3"``."""
        return self._row.version

    @property
    def ref(self) -> str:
        """``"project/name:v3"``."""
        return self._row.ref

    @property
    def qualified_name(self) -> str:
        """``"project/name"`` (same as :attr:`full_name`)."""
        return f"{self.project}/{self.collection}"

    @property
    def digest(self) -> str:
        assert self._row.digest is not None
        return self._row.digest

    @property
    def size(self) -> int:
        return self._row.size

    @property
    def file_count(self) -> int:
        return self._row.file_count

    @property
    def state(self) -> str:
        return self._row.state

    @property
    def created_at(self) -> dt.datetime:
        return self._row.committed_at or self._row.created_at

    @property
    def is_link(self) -> bool:
        """True for a member of a registry collection (it links a version elsewhere)."""
        return self._row.target_id is not None

    @property
    def linked_version(self) -> ArtifactVersion | None:
        """For a registry member, the version it links; else None."""
        if self._row.target_id is None:
            return None
        return self._ctx.version(self._ctx.catalog.version_by_id(self._row.target_id))

    @property
    def semver(self) -> SemVer | None:
        return SemVer.parse(self._row.semver) if self._row.semver else None

    @property
    def manifest(self) -> Manifest:
        """The entries of this version (loaded on first use)."""
        if self._manifest is None:
            self._manifest = Manifest(self._ctx.catalog.entries(self._row.id, bind=self))
        return self._manifest

    def __repr__(self) -> str:
        return f"<ArtifactVersion {self.ref} aliases={self.aliases} digest={self._row.digest and self._row.digest[:12]}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ArtifactVersion)
            and other._row.id == self._row.id
            and other._ctx is self._ctx
        )

    def __hash__(self) -> int:
        return hash(self._row.id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no entries).

        Example:
            >>> # registry.get("model:v0").to_dict()["ref"]
        """
        linked = self.linked_version if self.is_link else None
        return {
            **serialize.version_fields(self._row),
            "index": self._row.index,
            "size": self.size,
            "file_count": self.file_count,
            "created_at": self.created_at.isoformat(),
            "aliases": list(self.aliases),  # as edited on this object
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "description": self.description,
            "semver": self._row.semver,
            "revision": self.revision,
            "linked": linked.ref if linked is not None else None,
        }

    # ---- editing ---------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """The revision this object was loaded at: every edit of the version's description,
        metadata, tags or aliases (also an alias moved onto or off it) raises it."""
        return self._row.revision

    def save(self, *, expected_revision: int | None = None) -> ArtifactVersion:
        """Persist edits to ``description``, ``metadata``, ``tags`` and ``aliases``.

        Only what changed since this object was loaded is written: one description, the
        metadata keys set or removed, the tags and aliases added or removed. Changes by other
        clients to anything else are kept (and show in this object afterwards). Changing
        something another client changed since this object was loaded raises
        :class:`ConflictError` and saves nothing: reload (``registry.get``) and apply the change
        again. ``expected_revision`` (see :attr:`revision`) refuses the save if the version was
        edited at all since that revision.

        Example:
            >>> # v.metadata["auc"] = 0.91; v.aliases.append("production"); v.save()
        """
        from ._ops import labels

        labels.check_edit(self._ctx, self.description, self.metadata)  # limits, before writing
        edit = self._changes(expected_revision)
        _policy.guard_alias_moves(self._ctx, self, edit.aliases_added, None)  # quarantine, policy
        self._refresh(labels.save(self._ctx, self._row.id, edit))
        _policy.audit_alias_moves(self._ctx, self, edit.aliases_added, None)
        return self

    def reload(self) -> ArtifactVersion:
        """Re-read description, metadata, tags and aliases from the registry (unsaved edits are
        dropped).

        Example:
            >>> # v.reload().aliases
        """
        self._refresh(self._ctx.catalog.version_by_id(self._row.id))
        return self

    def _changes(self, expected_revision: int | None) -> LabelEdit:
        """What the caller changed since load, validated (nothing is written here)."""
        from .catalog import MISSING, LabelEdit

        before = self._loaded
        description = None
        if self.description != before["description"]:
            description = (before["description"], self.description)
        old_meta, new_meta = before["metadata"], self.metadata
        metadata = {
            key: (old_meta.get(key, MISSING), new_meta.get(key, MISSING))
            for key in dict.fromkeys([*old_meta, *new_meta])
            if key not in old_meta or key not in new_meta or old_meta[key] != new_meta[key]
        }
        tags = list(dict.fromkeys(self.tags))
        aliases = [a for a in dict.fromkeys(self.aliases) if a != LATEST]
        old_tags, old_aliases = set(before["tags"]), set(before["aliases"])
        tags_added = tuple(validate_name(t, "tag") for t in tags if t not in old_tags)
        aliases_added = tuple(validate_alias(a) for a in aliases if a not in old_aliases)
        return LabelEdit(
            revision=self._row.revision,
            alias_seq=self._row.alias_seq,
            description=description,
            metadata=metadata,
            tags_added=tags_added,
            tags_removed=tuple(sorted(old_tags - set(tags))),
            aliases_added=aliases_added,
            aliases_removed=tuple(sorted(old_aliases - set(aliases) - {LATEST})),
            expected_revision=expected_revision,
        )

    def delete(self, delete_aliases: bool = False) -> None:
        """Mark this version DELETED; its lineage stays, ``gc`` reclaims its blobs later.

        Example:
            >>> # registry.get("ds:v0").delete(delete_aliases=True)
        """
        from ._ops import labels, locks

        locks.ensure_not_kept(self._ctx, self)  # a kept run lock holds it: LockKeptError
        self._refresh(labels.delete(self._ctx, self._row.id, delete_aliases))

    def _refresh(self, row: VersionRow) -> None:
        """Show ``row`` and remember it as what this object loaded (the base of its next save)."""
        self._row = row
        self.description = row.description
        self.metadata = copy.deepcopy(dict(row.metadata))
        self.tags = list(row.tags)
        self.aliases = list(row.aliases)
        self._loaded: dict[str, Any] = {
            "description": row.description,
            "metadata": copy.deepcopy(dict(row.metadata)),
            "tags": tuple(row.tags),
            "aliases": tuple(row.aliases),
        }

    # ---- lineage ------------------------------------------------------------------------
    @property
    def quarantined(self) -> _quarantine.Quarantine | None:
        """The active quarantine of this version (who, when, why), or None."""
        return _quarantine.quarantine_of(self._ctx, self)

    @property
    def tainted_by(self) -> _quarantine.Quarantine | None:
        """The nearest quarantine upstream of this version (it was built from a bad one)."""
        return _quarantine.tainted_by(self._ctx, self)

    def add_check(self, name: str, passed: bool, details: Any = None) -> _policy.Check:
        """Record a check result on this version (``version.add_check("auc", True, {...})``)."""
        return _policy.add_check(self._ctx, self, name, passed, details)

    @property
    def checks(self) -> list[_policy.Check]:
        """Every check result recorded on this version, oldest first."""
        return _policy.checks(self._ctx, self)

    def logged_by(self) -> Run | None:
        """The run that produced this version (the first one, if several logged it: see
        :meth:`logged_by_all`)."""
        runs = self.logged_by_all()
        return runs[0] if runs else None

    def logged_by_all(self) -> list[Run]:
        """Every run that logged this version, oldest first: the one that created it, then
        each run whose log de-duplicated to it (same content as ``latest``).

        Example:
            >>> # [run.label for run in registry.get("ds:v3").logged_by_all()]
        """
        from ._ops.runs import runs_of

        return runs_of(self._ctx, self._row.id, "logged")

    def used_by(self) -> list[Run]:
        """Runs that consumed this version."""
        from ._ops.runs import runs_of

        return runs_of(self._ctx, self._row.id, "used")

    # ---- reading ----------------------------------------------------------------------
    def files(self) -> Iterator[Entry]:
        """Iterate entries without downloading.

        Example:
            >>> # [e.path for e in v.files()]
        """
        yield from self.manifest.entries.values()

    def get_path(self, name: str) -> Entry:
        """The entry at ``name`` (call ``.download()`` on it to fetch just that file)."""
        entry = self.manifest.entries.get(name)
        if entry is None:
            raise ArtifactNotFoundError(
                f"{self.ref} has no entry {name!r}; it has {len(self.manifest)} entries (see version.files())"
            )
        return entry

    def open(self, name: str) -> BinaryIO:
        """Open one entry for reading; no unverified byte is handed out.

        A stored file up to ``ARTIFLOW_VERIFY_SPOOL_BYTES`` (default 64 MiB) is read whole into a
        private spool (memory up to 8 MiB, then a temporary file) and verified before this
        returns: a corrupt or missing blob raises here (:class:`VerificationError` /
        :class:`StoreError`), and what is read afterwards is the verified copy. A larger file is
        hashed whole once before this returns (a local file: the store's own, or the download
        cache's verified copy for an object store), then streamed from the same open file and
        hashed again; it can only differ from what was checked if the stored file is rewritten
        in between, which the end of the stream reports. References are downloaded (verified)
        into a temporary folder that goes away when the stream is closed.

        Example:
            >>> # with version.open("rows.csv") as fh: header = fh.readline()
        """
        entry = self.get_path(name)
        if entry.is_reference or entry.digest is None:
            import tempfile

            tmp = Path(tempfile.mkdtemp(prefix="artiflow-open-"))
            path = entry.download(tmp)
            return _Cleanup(io.FileIO(path, "rb"), tmp)  # type: ignore[return-value]
        if entry.size is None or entry.size <= spool_limit():
            return _spooled(self._ctx.store, entry.digest, entry.size, entry.path)
        return _prechecked(self._ctx, entry.digest, entry.path)

    def default_root(self) -> Path:
        """``./artifacts/<name>:<version>/``."""
        return Path("artifacts") / f"{self.collection}:{self.version}"

    def download(self, root: str | os.PathLike[str] | None = None, *, progress: Any = None) -> Path:
        """Download every entry under ``root`` (default ``./artifacts/<name>:<version>/``).

        Files already in ``root`` with the right content are left alone; other files there are
        left alone too (use :meth:`checkout` for an exact copy). Every file is verified.
        Nothing is written through a symbolic link inside ``root``: a linked folder on the way
        to an entry raises :class:`InvalidPathError` naming it, before anything is written
        (``root`` itself may be a link to a folder).

        Example:
            >>> # path = registry.get("bike-dataset:latest").download("/tmp/ds")
        """
        return self.download_entries(list(self.manifest.entries.values()), root, progress=progress)

    def download_entries(
        self, items: list[Entry], root: str | os.PathLike[str] | None, progress: Any = None
    ) -> Path:
        """Download just ``items`` (entries of this version) under ``root``, as :meth:`download`
        does (``entry.download()`` calls this).

        Example:
            >>> # v.download_entries([v.get_path("rows.csv")], "/tmp/ds")
        """
        from ._ops.materialize import download_entries

        return download_entries(self._ctx, self, items, root, progress)

    def file(self, root: str | os.PathLike[str] | None = None) -> Path:
        """Download a single-file artifact and return the file's path.

        Example:
            >>> # model_path = registry.get("churn-model:production").file()
        """
        if len(self.manifest) != 1:
            raise InvalidPathError(
                f"{self.ref} has {len(self.manifest)} entries; file() is for single-file artifacts: "
                "use download() or get_path(name).download()"
            )
        base = self.download(root)
        return base / next(iter(self.manifest.entries))

    def checkout(self, root: str | os.PathLike[str]) -> Path:
        """Make ``root`` exactly this version: download what differs, remove extra files.

        Links inside ``root`` on the way to an entry are replaced by real folders (the link is
        removed, never what it points to). Refused before anything is written or deleted
        (:class:`InvalidPathError`): the file-system root, your home, a folder holding the
        current folder or the registry's home, database, store or cache, a folder inside the
        store or cache, and the current folder itself when files there would be deleted.

        Example:
            >>> # registry.get("ds:v2").checkout("data/")
        """
        from ._ops.materialize import checkout

        return checkout(self._ctx, self, root)

    def verify(self, root: str | os.PathLike[str]) -> None:
        """Raise :class:`VerificationError` listing every missing, changed or extra file under
        ``root``, every symbolic link on the way to an entry (kind ``symlink``; nothing is read
        through a link out of ``root``) and every reference whose remote identity changed.

        Example:
            >>> # registry.get("ds:v2").verify("data/")
        """
        from ._ops.materialize import verify

        verify(self._ctx, self, root)

    # ---- W&B and Comet spellings (see docs/migrating.md) ----------------------------------
    @property
    def entity(self) -> str:
        """W&B's ``entity``: the project of this version."""
        return self._row.project

    def is_draft(self) -> bool:
        """False: a logged version (W&B's ``is_draft()``; a draft :class:`Artifact` says True)."""
        return False

    def wait(self, timeout: float | None = None) -> ArtifactVersion:
        """This version (W&B's ``wait()``): logging here is synchronous, so it is committed.

        Example:
            >>> # v = registry.log(draft).wait()
        """
        return self

    @property
    def source_version(self) -> str:
        """The ``vN`` of the version this one links (itself when it is no registry member).

        Example:
            >>> # registry.link("model:v7", "registry/churn").source_version == "v7"
        """
        return (self.linked_version or self).version

    @property
    def source_name(self) -> str:
        """``"name:vN"`` of the version this one links (itself when no registry member)."""
        source = self.linked_version or self
        return f"{source.collection_name}:{source.version}"

    @property
    def commit_hash(self) -> str:
        """W&B's ``commit_hash``: here the version digest (BLAKE3 of the manifest), which
        names what was committed."""
        return self.digest

    @property
    def updated_at(self) -> dt.datetime:
        """When this version last changed: its commit or the newest alias move onto or off it
        (edits of description, metadata and tags carry no time of their own).

        Example:
            >>> # registry.get("ds:production").updated_at >= registry.get("ds:production").created_at
        """
        newest = self.created_at
        mine = {self.version}
        for event in self._ctx.catalog.alias_events(self.project, self.collection_name, None):
            if (event.version in mine or event.previous in mine) and event.at > newest:
                newest = event.at
        return newest

    @property
    def version_tags(self) -> list[str]:
        """Comet's ``version_tags``: the tags of this version (edit, then :meth:`save`)."""
        return self.tags

    @version_tags.setter
    def version_tags(self, value: list[str]) -> None:
        self.tags = list(value)

    def update_version_tags(self, version_tags: list[str]) -> ArtifactVersion:
        """Comet's ``update_version_tags``: make these the tags of this version and save.

        Example:
            >>> # v.update_version_tags(["reviewed"])
        """
        self.tags = list(version_tags)
        return self.save()

    def update_aliases(self, aliases: list[str]) -> ArtifactVersion:
        """Comet's ``update_aliases``: make these the aliases of this version and save
        (``latest`` stays managed by artiflow).

        Example:
            >>> # v.update_aliases(["production"])
        """
        self.aliases = list(aliases)
        return self.save()

    @property
    def artifact_type(self) -> str:
        """Comet's ``artifact_type``: :attr:`type`."""
        return self._row.type

    def json_encode(self) -> dict[str, Any]:
        """W&B's ``json_encode()``: :meth:`to_dict` marked ``"_type": "artifactVersion"``.

        Example:
            >>> # registry.get("ds:v0").json_encode()["_type"]
        """
        return {"_type": "artifactVersion", **self.to_dict()}

    def get_entry(self, name: str) -> Entry:
        """The entry at ``name`` (W&B's ``get_entry``; Comet's ``get_asset``): its digest,
        size, reference URI, metadata and asset type, without downloading.

        Example:
            >>> # v.get_entry("rows.csv").metadata
        """
        return self.get_path(name)

    get = get_entry
    get_asset = get_entry
    __getitem__ = get_entry

    @property
    def assets(self) -> list[Entry]:
        """Comet's ``assets``: every entry, without downloading (see :meth:`files`)."""
        return list(self.manifest.entries.values())

    def link(
        self, target_path: str, aliases: list[str] | tuple[str, ...] | None = None
    ) -> ArtifactVersion:
        """Link this version into the registry collection ``target_path``
        (``"registry-name/collection"``; W&B's ``link``); returns the member. No content is
        copied. Same as :meth:`Registry.link`.

        Example:
            >>> # member = v.link("model-registry/churn", aliases=["production"])
        """
        from ._ops.log import link

        alias_list = [aliases] if isinstance(aliases, str) else list(aliases or ())
        if isinstance(target_path, str) and ":" not in target_path:  # else link() says why
            t = self._ctx.parse(target_path)
            _policy.guard_link_aliases(self._ctx, self, t.project, t.name, alias_list)
        return link(self._ctx, self, target_path, alias_list)

    def unlink(self) -> None:
        """Remove this registry member (W&B's ``unlink``): it is deleted with its aliases; the
        version it links is untouched. Raises :class:`InvalidRefError` on a version that is
        no registry member (use :meth:`delete` for those).

        Example:
            >>> # registry.get("model-registry/churn:production").unlink()
        """
        if not self.is_link:
            raise InvalidRefError(
                f"{self.ref} is not a registry member, so there is nothing to unlink: unlink() "
                "removes a member made by link(); use delete() to delete a logged version"
            )
        self.delete(delete_aliases=True)

    def new_draft(self) -> Artifact:
        """A draft pre-filled with this version's entries: add/remove, then log a patch.
        Only changed files are hashed and stored.

        Example:
            >>> # draft = registry.get("ds:latest").new_draft(); draft.remove("old.csv")
        """
        from .artifact import patch_draft

        return patch_draft(self)
