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
import shutil
import tempfile
from typing import Any

from ._drafts.adding import DraftAdding
from ._drafts.compat import DraftCompat
from ._drafts.sources import LocalSource, ReferenceSource, Source, label_list, split_name
from .exceptions import InvalidRefError
from .limits import validate_text
from .manifest import Entry

__all__ = ["Artifact", "LocalSource", "ReferenceSource", "patch_draft"]


class Artifact(DraftAdding, DraftCompat):
    """A draft artifact: add content, then ``Registry.log(artifact)``.

    ``name`` may carry a project (``"team/model"``). Entry paths are relative POSIX paths.
    ``aliases`` and ``version_tags`` (Comet's spellings; ``tags`` too) are applied when the
    draft is logged, together with those given to ``log``. ``artifact_type`` is Comet's name
    for ``type``.

    The class is made of parts, one module each under :mod:`artiflow._drafts`: the state they
    share (``core``), adding and removing content (``adding``) and W&B's spellings
    (``compat``); ``sources`` holds what an entry path maps to.
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
        self.project, self.name = split_name(name)
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
        self.aliases: list[str] = label_list(aliases)
        labels = [*label_list(version_tags), *label_list(tags)]
        self.version_tags: list[str] = list(dict.fromkeys(labels))

    def __repr__(self) -> str:
        return (
            f"Artifact({self.qualified_name!r}, type={self.type!r}, entries={len(self._sources)})"
        )

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
