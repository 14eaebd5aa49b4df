"""``ArtifactVersion`` and ``Artifact`` are made of one-concern parts (issue 12): the names they
had as single classes are all still there, each part's examples run, no part is a god class."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect

import pytest

import artiflow
from artiflow.artifact import Artifact, LocalSource, ReferenceSource, patch_draft
from artiflow.version import SPOOL_LIMIT, ArtifactVersion, spool_limit

VERSION_PARTS = ["core", "labels", "lineage", "reading", "compat", "spool"]
DRAFT_PARTS = ["sources", "core", "adding", "compat"]

#: the public names of both classes before the split (main at 1f9337d)
VERSION_NAMES = {
    "__getitem__", "add_check", "artifact_type", "assets", "checkout", "checks", "collection",
    "collection_name", "commit_hash", "created_at", "default_root", "delete", "digest",
    "download", "entity", "file", "file_count", "files", "full_name", "get", "get_asset",
    "get_entry", "get_path", "id", "index", "is_draft", "is_link", "json_encode", "link",
    "linked_version", "logged_by", "logged_by_all", "manifest", "name", "new_draft", "open",
    "project", "qualified_name", "quarantined", "record", "ref", "reload", "revision", "save",
    "semver", "size", "source_name", "source_version", "state", "tainted_by", "to_dict", "type",
    "unlink", "update_aliases", "update_version_tags", "updated_at", "used_by", "verify",
    "version", "version_tags", "wait",
}  # fmt: skip
DRAFT_NAMES = {
    "__getitem__", "add", "add_dir", "add_file", "add_reference", "add_remote", "assets",
    "ensure_open", "entity", "get", "get_entry", "is_draft", "mark_logged", "new_file", "paths",
    "qualified_name", "remove", "sources", "wait",
}  # fmt: skip


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_") or n == "__getitem__"}


def test_every_name_of_the_classes_is_kept() -> None:
    assert _public(ArtifactVersion) >= VERSION_NAMES
    assert _public(Artifact) >= DRAFT_NAMES
    # what was added since: the registry settings and the per-entry download entry.download uses
    assert _public(ArtifactVersion) - VERSION_NAMES == {"download_entries", "settings"}
    assert _public(Artifact) == DRAFT_NAMES
    assert artiflow.ArtifactVersion is ArtifactVersion and artiflow.Artifact is Artifact
    assert (LocalSource, ReferenceSource, patch_draft) and SPOOL_LIMIT == 64 * 1024 * 1024
    assert spool_limit() >= 0
    # the spellings stay the very same objects, wherever their part lives
    assert ArtifactVersion.get is ArtifactVersion.get_asset is ArtifactVersion.get_entry
    assert ArtifactVersion.__getitem__ is ArtifactVersion.get_entry
    assert Artifact.get is Artifact.__getitem__ is Artifact.get_entry


@pytest.mark.parametrize(
    "name",
    [f"artiflow._versions.{p}" for p in VERSION_PARTS]
    + [f"artiflow._drafts.{p}" for p in DRAFT_PARTS],
)
def test_part_examples(name: str) -> None:
    module = importlib.import_module(name)
    # the methods' examples name the class they are part of, as they did in its module
    names = {"Artifact": Artifact, "ArtifactVersion": ArtifactVersion}
    result = doctest.testmod(module, extraglobs=names, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("cls", [ArtifactVersion, Artifact])
def test_no_part_is_over_the_size_guide(cls: type) -> None:
    """No class over ~400 lines (the guide of issue 12), the whole class and each part."""
    for part in cls.__mro__[:-1]:
        source = inspect.getsource(part)
        node = ast.parse(source).body[0]
        assert node.end_lineno is not None and node.end_lineno <= 400, part.__qualname__
