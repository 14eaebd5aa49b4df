"""Ingest: turn a draft's sources into manifest entries (hash and store local files, resolve
references). Nothing is committed here; :mod:`artiflow._ops.log` commits.

One read per local file; the stat cache skips files unchanged since they were last hashed, and
when every file is known and the manifest equals ``latest`` the store is not touched at all.

Example:
    >>> import tempfile
    >>> from artiflow import Artifact, Registry
    >>> reg = Registry(home=tempfile.mkdtemp())
    >>> draft = Artifact("notes")
    >>> with draft.new_file("a.txt") as f:
    ...     _ = f.write("hi")
    >>> manifest = prepare_entries(reg.context, draft, None)
    >>> list(manifest.entries), reg.context.counters.files_read
    (['a.txt'], 1)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ..artifact import LocalSource, ReferenceSource
from ..exceptions import ConflictError, StoreError
from ..hashing import file_stat, hash_file
from ..limits import validate_json, validate_version_fields
from ..manifest import EMPTY_EXTRA, Entry, Manifest, check_collisions
from ..refs import validate_alias, validate_name
from ..store import SMALL_BLOB
from .parallel import parallel

if TYPE_CHECKING:
    from .._context import RegistryContext
    from ..artifact import Artifact

__all__ = ["annotate", "cached_hash", "prepare_entries", "validate_draft", "validate_labels"]

Progress = Callable[[int], object] | None
Latest = str | None | Callable[[], "str | None"]  # the digest of latest, or how to read it
_Todo = tuple[str, str, "str | None"]  # (entry path, local file, digest known from the cache)
_Put = tuple[str, str, int, bool]  # (entry path, digest, size, stat already judged)


def validate_labels(aliases: Iterable[str], tags: Iterable[str]) -> tuple[list[str], list[str]]:
    """Aliases and tags checked and de-duplicated (a single string is one label)."""
    if isinstance(aliases, str):
        aliases = [aliases]
    if isinstance(tags, str):
        tags = [tags]
    alias_list = [validate_alias(a) for a in dict.fromkeys(aliases)]
    tag_list = [validate_name(t, "tag") for t in dict.fromkeys(tags)]
    return alias_list, tag_list


def validate_draft(
    ctx: RegistryContext,
    artifact: Artifact,
    project: str,
    *,
    semver: str | None = None,
    distributed_id: str | None = None,
) -> None:
    """Check every stored field of a draft against ``limits.LIMITS`` and its entry paths for
    case/normalization collisions, before anything is stored."""
    validate_version_fields(
        type=artifact.type,
        description=artifact.description,
        metadata=artifact.metadata,
        semver=semver,
        distributed_id=distributed_id,
        max_metadata_bytes=ctx.max_metadata_bytes,
    )
    for path, (metadata, _type) in artifact.assets().items():
        validate_json(f"metadata of entry {path!r}", metadata, max_bytes=ctx.max_metadata_bytes)
    check_collisions(artifact.sources(), f"{project}/{artifact.name}")


def annotate(entries: dict[str, Entry], artifact: Artifact) -> dict[str, Entry]:
    """``entries`` with the per-entry metadata and asset types the draft was given (a
    reference's go to every entry it expanded to); entries without any are kept as they are
    (a carried-over entry keeps what its version had).

    Example:
        >>> import tempfile
        >>> from artiflow import Artifact
        >>> draft = Artifact("x")
        >>> _ = draft.add_reference("file://" + tempfile.mkdtemp(), name="raw",
        ...                         metadata={"year": 2024}, asset_type="raw-data")
        >>> out = annotate({"raw/a.csv": Entry("raw/a.csv", size=1)}, draft)
        >>> out["raw/a.csv"].metadata, out["raw/a.csv"].asset_type
        ({'year': 2024}, 'raw-data')
    """
    assets = artifact.assets()
    if not assets:
        return entries
    out = dict(entries)
    for path, entry in entries.items():
        found = assets.get(path)
        if found is None:
            parts = path.split("/")
            for n in range(len(parts) - 1, 0, -1):  # the reference prefix it came from
                found = assets.get("/".join(parts[:n]))
                if found is not None:
                    break
        if found is not None:
            out[path] = entry.with_asset(*found)
    return out


def blob_sizes(items: Iterable[Entry]) -> tuple[set[str], dict[str, int]]:
    """The stored blobs of ``items`` and their sizes, as :meth:`BlobStore.missing` takes them."""
    sizes = {e.digest: e.size for e in items if e.ref is None and e.digest and e.size is not None}
    return {e.digest for e in items if e.ref is None and e.digest}, sizes


def cached_hash(ctx: RegistryContext, path: str) -> tuple[str, int]:
    """The digest and size of a local file, through the stat cache."""
    st = os.stat(path)
    hit = ctx.stat_cache.lookup([path], {path: st})
    if path in hit:
        return hit[path], st.st_size
    started = time.time_ns()
    digest, size = hash_file(path)
    ctx.counters.add(files_read=1)
    ctx.stat_cache.store([(path, st, digest)], hashed_at_ns=started)
    return digest, size


def _stat_all(local: dict[str, str]) -> dict[str, os.stat_result]:
    stats: dict[str, os.stat_result] = {}  # slim stats: ~220 bytes a file, not ~640
    for p, full in local.items():
        try:
            stats[full] = file_stat(full)
        except FileNotFoundError:
            raise StoreError(
                f"file {full!r} (entry {p!r}) disappeared before it was logged"
            ) from None
    return stats


def _unchanged_latest(
    ctx: RegistryContext,
    artifact: Artifact,
    sources: Mapping[str, object],
    local: dict[str, str],
    stats: dict[str, os.stat_result],
    known: dict[str, str],
    expected_latest: Latest,
) -> Manifest | None:
    """The manifest when every file is known, it equals ``latest`` and its blobs are stored
    (``latest`` is read only then: a draft with a new file cannot be a no-op)."""
    if expected_latest is None or len(known) != len(local):
        return None
    if any(isinstance(s, ReferenceSource) for s in sources.values()):
        return None
    if callable(expected_latest):
        expected_latest = expected_latest()
        if expected_latest is None:
            return None
    entries = {p: s for p, s in sources.items() if isinstance(s, Entry)}
    for p, full in local.items():
        entries[p] = Entry(p, known[full], stats[full].st_size, None, EMPTY_EXTRA)
    candidate = Manifest.adopt(annotate({p: entries[p] for p in sorted(entries)}, artifact))
    if candidate.digest() != expected_latest:
        return None
    if ctx.store.missing(*blob_sizes(entries.values())):  # lost or damaged: store it again
        return None
    return candidate


def _resolve_references(
    ctx: RegistryContext, artifact: Artifact, sources: Mapping[str, object]
) -> dict[str, Entry]:
    """Every reference expanded to entries; a prefix over ``max_objects`` (or a missing
    object) fails here, before any local blob is stored."""
    resolved: dict[str, Entry] = {}
    for p, src in sources.items():
        if not isinstance(src, ReferenceSource):
            continue
        from ..references import reference_options, resolve

        options = reference_options(src.uri, ctx.settings.store_url, ctx.settings.storage_options)
        for entry in resolve(
            p,
            src.uri,
            checksum=src.checksum,
            max_objects=src.max_objects,
            hasher=lambda path: cached_hash(ctx, path),
            storage_options=options,
        ):
            other = sources.get(entry.path)
            if entry.path in resolved or (
                other is not None and not isinstance(other, ReferenceSource)
            ):
                raise ConflictError(
                    f"reference {src.uri!r} expands to {entry.path!r}, which the draft already has"
                )
            resolved[entry.path] = entry
    if resolved:
        check_collisions(
            [*(q for q in sources if not isinstance(sources[q], ReferenceSource)), *resolved],
            f"{artifact.qualified_name}",
        )
    return resolved


def _missing_blobs(
    ctx: RegistryContext,
    carried: dict[str, Entry],
    known: dict[str, str],
    stats: dict[str, os.stat_result],
) -> set[str]:
    """Blobs the draft expects in the store that are not there; carried-over entries without
    their blob cannot be logged."""
    need_check = {s.digest for s in carried.values() if s.ref is None and s.digest}
    need_check |= set(known.values())
    sizes = {d: stats[full].st_size for full, d in known.items()}  # damaged = wrong size
    missing = ctx.store.missing(need_check, sizes) if need_check else set()
    lost = {p for p, s in carried.items() if s.ref is None and s.digest in missing}
    if lost:
        raise StoreError(
            f"{len(lost)} carried-over entries (e.g. {sorted(lost)[0]!r}) have no content in the "
            "store any more (garbage-collected?): add those files again"
        )
    return missing


def _put_local(
    ctx: RegistryContext,
    todo: list[_Todo],
    stats: dict[str, os.stat_result],
    fresh: list[tuple[str, os.stat_result, str]],
    progress: Progress,
) -> list[_Put]:
    """Hash and store files into a local store (small ones with one read and one fstat)."""
    store = ctx.store

    def put(item: _Todo) -> _Put:
        p, full, digest = item
        st = stats[full]
        if digest is None and st.st_size <= SMALL_BLOB:
            try:
                small = store.put_small(full, st)
            except FileNotFoundError:
                raise StoreError(
                    f"file {full!r} (entry {p!r}) disappeared before it was logged"
                ) from None
            if small is not None:
                d, size, unchanged = small
                if unchanged:  # read with one fstat: no second stat needed
                    fresh.append((full, st, d))
                if progress is not None:
                    progress(size)
                return p, d, size, True
        d, size = store.put_file(full, digest=digest, progress=progress)
        return p, d, size, False

    return parallel(put, todo, sum(stats[f].st_size for _, f, _ in todo), ctx.counters)


def _put_remote(
    ctx: RegistryContext, todo: list[_Todo], stats: dict[str, os.stat_result], progress: Progress
) -> list[_Put]:
    """Hash files here, then upload them to a remote store in one batch."""

    def hash_one(item: _Todo) -> _Put:
        p, full, digest = item
        if digest is not None:
            return p, digest, stats[full].st_size, False
        d, size = hash_file(full)
        return p, d, size, False

    results = parallel(hash_one, todo, sum(stats[f].st_size for _, f, _ in todo), ctx.counters)
    by_path = {p: full for p, full, _ in todo}
    ctx.store.put_many(
        [(by_path[p], d) for p, d, _, _ in results], progress=progress, unchanged_since=stats
    )
    return results


def _store_files(
    ctx: RegistryContext,
    todo: list[_Todo],
    local: dict[str, str],
    stats: dict[str, os.stat_result],
    progress: Progress,
) -> dict[str, Entry]:
    """Store ``todo`` and remember in the stat cache what did not change while it was read."""
    hashed_at = time.time_ns()
    fresh: list[tuple[str, os.stat_result, str]] = []
    ctx.counters.add(files_read=len(todo))
    if ctx.store.is_local:
        results = _put_local(ctx, todo, stats, fresh, progress)
    else:
        results = _put_remote(ctx, todo, stats, progress)
    out: dict[str, Entry] = {}
    for p, d, size, judged in results:
        out[p] = Entry(p, d, size, None, EMPTY_EXTRA)
        if judged:  # put_small compared the stat already (fstat after reading)
            continue
        full = local[p]
        if os.stat(full).st_mtime_ns == stats[full].st_mtime_ns:
            fresh.append((full, stats[full], d))
    ctx.stat_cache.store(fresh, hashed_at_ns=hashed_at)
    return out


def prepare_entries(
    ctx: RegistryContext, artifact: Artifact, progress: Progress, expected_latest: Latest = None
) -> Manifest:
    """Hash and store every local file of the draft (one read each; the stat cache skips
    unchanged files), resolve references. Nothing is committed here.

    ``expected_latest`` is the digest of the collection's ``latest`` (or a function that reads
    it, called only when every file is known): when every file is known from the stat cache
    and the manifest equals it, the store is not touched at all (the version it would make is
    a no-op whose blobs are live already)."""
    sources = artifact.sources()
    local = {p: s.path for p, s in sources.items() if isinstance(s, LocalSource)}
    stats = _stat_all(local)
    known = ctx.stat_cache.lookup(local.values(), stats)
    same = _unchanged_latest(ctx, artifact, sources, local, stats, known, expected_latest)
    if same is not None:
        if progress is not None:
            progress(sum(st.st_size for st in stats.values()))
        return same
    resolved = _resolve_references(ctx, artifact, sources)
    # entries carried over from a previous version (patches) need their blobs present
    carried = {p: s for p, s in sources.items() if isinstance(s, Entry)}
    missing = _missing_blobs(ctx, carried, known, stats)
    out: dict[str, Entry] = dict(carried)
    todo: list[_Todo] = []
    touch: list[str] = []
    for p, full in local.items():
        digest = known.get(full)
        if digest is not None and digest not in missing:
            out[p] = Entry(p, digest, stats[full].st_size, None, EMPTY_EXTRA)
            touch.append(digest)
            if progress is not None:
                progress(stats[full].st_size)
        else:
            todo.append((p, full, digest))
    if ctx.store.is_local:
        for d in touch:  # keep gc's grace window for blobs a new version is about to use
            with contextlib.suppress(OSError):
                os.utime(ctx.store.path(d))
    if todo:
        out.update(_store_files(ctx, todo, local, stats, progress))
    out.update(resolved)
    ordered = {p: out[p] for p in sorted(out)}
    del out  # one dict of the entries at a time (~40 bytes a file each)
    return Manifest.adopt(annotate(ordered, artifact))
