"""Log: commit drafts as versions (``log_many``), collaborative versions (``upsert`` /
``finish``) and registry links (``link``), then announce them on the event bus.

Content is stored first (:mod:`artiflow._ops.ingest`) inside :func:`artiflow._ops.gc.guarded`,
so a concurrent gc never deletes a blob a commit re-uses; nothing is committed until every
draft was validated and stored.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("notes")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("hi")
    >>> [v.ref for v in log_many(reg.context, [(draft, {"aliases": ["production"]})])]
    ['default/notes:v0']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..exceptions import ConflictError, InvalidRefError
from ..semver import SemVer
from . import gc as _gc
from .ingest import prepare_entries, validate_draft, validate_labels
from .policy import guard_log_aliases

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..artifact import Artifact
    from ..runs import Run
    from ..version import ArtifactVersion

__all__ = ["Upserted", "finish", "link", "log_many", "upsert"]

Progress = Callable[[int], object] | None
_Plan = tuple["Artifact", str, list[str], list[str], "str | None"]
_OPTIONS = {"aliases", "tags", "semver", "version"}


@dataclass(frozen=True)
class Upserted:
    """What a draft given to ``upsert`` became: part of a pending collaborative version."""

    distributed_id: str

    @property
    def ref(self) -> str:
        return f"pending collaborative version {self.distributed_id!r}"


def _semver(version: str | None, semver: str | None = None) -> str | None:
    """The semantic version label (``semver=``; ``version=`` is its older spelling)."""
    if version is not None and semver is not None and version != semver:
        raise InvalidRefError(
            f"semver={semver!r} and version={version!r} differ: give one of them (version= is "
            "the older spelling of semver=)"
        )
    label = semver if semver is not None else version
    return str(SemVer.parse(label)) if label is not None else None


def _draft_labels(
    artifact: Artifact, aliases: Iterable[str], tags: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The aliases and tags of a log: the draft's own (``Artifact(aliases=, version_tags=)``)
    and those given to ``log``, validated."""
    if isinstance(aliases, str):
        aliases = [aliases]
    if isinstance(tags, str):
        tags = [tags]
    own_aliases = getattr(artifact, "aliases", None) or []
    own_tags = getattr(artifact, "version_tags", None) or []
    return validate_labels([*own_aliases, *aliases], [*own_tags, *tags])


def _plan(
    ctx: RegistryContext, items: Sequence[Artifact | tuple[Artifact, dict[str, Any]]]
) -> list[_Plan]:
    """Every draft and its options validated, before anything is stored."""
    plans: list[_Plan] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        artifact, opts = item if isinstance(item, tuple) else (item, {})
        unknown = set(opts) - _OPTIONS
        if unknown:
            raise InvalidRefError(
                f"unknown log option(s) {sorted(unknown)}: use aliases, tags, semver"
            )
        artifact.ensure_open()
        alias_list, tag_list = _draft_labels(
            artifact, opts.get("aliases", ()), opts.get("tags", ())
        )
        semver = _semver(opts.get("version"), opts.get("semver"))
        project = artifact.project or ctx.default_project
        validate_draft(ctx, artifact, project, semver=semver)
        if (project, artifact.name) in seen:
            raise ConflictError(
                f"{project}/{artifact.name} is logged twice in one commit; merge the drafts"
            )
        seen.add((project, artifact.name))
        plans.append((artifact, project, alias_list, tag_list, semver))
    return plans


def log_many(
    ctx: RegistryContext,
    items: Sequence[Artifact | tuple[Artifact, dict[str, Any]]],
    run: Run | None = None,
    progress: Progress = None,
) -> list[ArtifactVersion]:
    """Log several drafts as ONE commit (see :meth:`artiflow.Registry.log_many`)."""
    plans = _plan(ctx, items)
    # quarantined inputs and protected aliases are refused before anything is stored
    guard_log_aliases(ctx, [(p[1], p[0].name, p[2]) for p in plans], run)
    run_id = run.id if run is not None else None

    def attempt(guard: _gc.GCGuard) -> list[Any]:
        commits: list[dict[str, Any]] = []
        for artifact, project, alias_list, tag_list, semver in plans:
            # latest is read only when the draft may equal it (every file known, unchanged):
            # a log of new content makes one read transaction (the gc epoch), not two
            manifest = prepare_entries(
                ctx,
                artifact,
                progress,
                expected_latest=partial(ctx.catalog.latest_digest, project, artifact.name),
            )
            commits.append(
                {
                    "project": project,
                    "name": artifact.name,
                    "type_": artifact.type,
                    "entries": list(manifest),
                    "digest": manifest.digest(),
                    "size": manifest.size,
                    "description": artifact.description,
                    "metadata": artifact.metadata,
                    "aliases": alias_list,
                    "tags": tag_list,
                    "semver": semver,
                    "run_id": run_id,
                }
            )
        return ctx.catalog.commit_many(commits, gc_guard=guard)

    results = _gc.guarded(ctx, attempt)  # gc never deletes a blob these versions re-use
    out = []
    for (artifact, *_), (row, _created, _moves) in zip(plans, results, strict=True):
        version = ctx.version(row)
        artifact.mark_logged(version)
        out.append(version)
    for row, created, moves in results:
        ctx.bus.publish(row, created, moves, run_id)
    return out


def _check_distributed_id(distributed_id: object) -> None:
    if not isinstance(distributed_id, str) or not distributed_id:
        raise InvalidRefError("distributed_id must be a non-empty string shared by all writers")


def upsert(ctx: RegistryContext, artifact: Artifact, distributed_id: str) -> None:
    """Add the draft's entries to the PENDING collaborative version ``distributed_id``."""
    _check_distributed_id(distributed_id)
    artifact.ensure_open()
    project = artifact.project or ctx.default_project
    validate_draft(ctx, artifact, project, distributed_id=distributed_id)
    _gc.guarded(
        ctx,
        lambda guard: ctx.catalog.upsert(
            project,
            artifact.name,
            artifact.type,
            distributed_id,
            list(prepare_entries(ctx, artifact, None)),
            artifact.description,
            artifact.metadata,
            gc_guard=guard,
        ),
    )
    artifact.mark_logged(Upserted(distributed_id))


def finish(
    ctx: RegistryContext,
    artifact: Artifact,
    distributed_id: str,
    aliases: Iterable[str] = (),
    tags: Iterable[str] = (),
    version: str | None = None,
    run: Run | None = None,
    semver: str | None = None,
) -> ArtifactVersion:
    """Commit the collaborative version ``distributed_id`` (adding this draft's entries)."""
    _check_distributed_id(distributed_id)
    artifact.ensure_open()
    alias_list, tag_list = _draft_labels(artifact, aliases, tags)
    semver = _semver(version, semver)
    project = artifact.project or ctx.default_project
    validate_draft(ctx, artifact, project, semver=semver, distributed_id=distributed_id)
    run_id = run.id if run is not None else None
    row, created, moves = _gc.guarded(
        ctx,
        lambda guard: ctx.catalog.finish(
            project,
            artifact.name,
            artifact.type,
            distributed_id,
            list(prepare_entries(ctx, artifact, None)),
            description=artifact.description,
            metadata=artifact.metadata,
            aliases=alias_list,
            tags=tag_list,
            semver=semver,
            run_id=run_id,
            gc_guard=guard,
        ),
    )
    result = ctx.version(row)
    artifact.mark_logged(result)
    ctx.bus.publish(row, created, moves, run_id)
    return result


def link(
    ctx: RegistryContext, source: ArtifactVersion, target: str, aliases: Iterable[str] = ()
) -> ArtifactVersion:
    """Link ``source`` into the registry collection ``target`` (no content is copied). A link
    of a link links the original; the same content linked twice keeps the first member."""
    if not isinstance(target, str) or ":" in target:
        raise InvalidRefError(
            f"invalid link target {target!r}: use 'registry-name/collection' without a selector"
        )
    t = ctx.parse(target)
    alias_list, _ = validate_labels(aliases, ())
    original = (source.linked_version or source).record
    row, created, moves = ctx.catalog.commit_version(
        t.project,
        t.name,
        original.type,
        entries=[],
        digest=original.digest or "",
        size=original.size,
        description=original.description,
        metadata=dict(original.metadata),
        aliases=alias_list,
        kind="registry",
        target_id=original.id,
    )
    ctx.bus.publish(row, created, moves, None)
    return ctx.version(row)
