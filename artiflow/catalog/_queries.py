"""Reading versions: resolve a selector in one round trip, list a collection's versions, read
entries.

The resolve statements are built once per process (a module-level cache) and reused.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> _ = cat.commit_version("p", "ds", "dataset", entries=[], digest="d" * 64, size=0)
    >>> cat.resolve("p", "ds", "latest").version
    'v0'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, or_, select

from ..exceptions import ArtifactNotFoundError
from ..manifest import Entry
from ..refs import LATEST, is_semver, is_version_index
from ._control import quarantine_taints, quarantines
from ._records import COMMITTED, DELETED, RunSummary, VersionRecord, VersionSummary
from ._rows import (
    ENTRY_COLUMNS,
    VERSION_COLUMNS,
    alias_seq_column,
    chunks,
    entries_of,
    latest_index,
    page_rows,
    run_summaries,
    version_record,
    version_rows,
    version_summaries,
)
from ._tx import Transactions
from .models import aliases, collections, entries, run_io, runs, tags, versions

__all__ = ["QueriesMixin", "collection_id", "content_id", "resolve_statements"]

_RESOLVE: dict[str, Any] | None = None


def _check_column() -> Any:
    """Whether the resolved version may be quarantined or tainted, so the quarantine check
    must run (see :func:`artiflow._ops.quarantine.blame`): it is quarantined itself, or an
    active quarantine's stored taint lists it, or it is newer than the smallest watermark of
    the active quarantines (what their taints may not know yet). False, and no second
    statement, whenever nothing is quarantined or it is an older clean version."""
    q_own, q_taint, q_mark = (
        quarantines.alias("q_own"),
        quarantines.alias("q_taint"),
        quarantines.alias("q_mark"),
    )
    own = exists(
        select(q_own.c.id).where(q_own.c.version_id == versions.c.id, q_own.c.released_at.is_(None))
    )
    tainted = exists(
        select(quarantine_taints.c.quarantine_id)
        .join(q_taint, q_taint.c.id == quarantine_taints.c.quarantine_id)
        .where(quarantine_taints.c.version_id == versions.c.id, q_taint.c.released_at.is_(None))
    )
    mark = (
        select(func.min(q_mark.c.watermark)).where(q_mark.c.released_at.is_(None)).scalar_subquery()
    )
    return or_(own, tainted, versions.c.id > mark).label("needs_quarantine_check")


def resolve_statements() -> dict[str, Any]:
    """One prebuilt statement per selector kind: the version row, the collection, whether it
    is latest, its aliases and tags, and whether the quarantine check must run for it (so a
    resolve through an alias needs no second statement when it cannot be quarantined or
    tainted), in ONE round trip (built once per process)."""
    global _RESOLVE
    if _RESOLVE is None:
        a2 = aliases.alias("a2")
        alias_list = (
            select(func.aggregate_strings(a2.c.alias, ","))
            .where(a2.c.version_id == versions.c.id)
            .scalar_subquery()
            .label("alias_list")
        )
        tag_list = (
            select(func.aggregate_strings(tags.c.tag, ","))
            .where(tags.c.version_id == versions.c.id)
            .scalar_subquery()
            .label("tag_list")
        )
        latest = latest_index(versions.c.collection_id).label("latest_idx")
        cols = [*VERSION_COLUMNS, latest, alias_list, tag_list, alias_seq_column(), _check_column()]
        in_coll = (collections.c.project == bindparam("p"), collections.c.name == bindparam("n"))
        base = select(*cols).select_from(
            versions.join(collections, collections.c.id == versions.c.collection_id)
        )
        _RESOLVE = {
            "latest": base.where(*in_coll, versions.c.idx == latest_index(collections.c.id)),
            "index": base.where(*in_coll, versions.c.idx == bindparam("i")),
            "semver": base.where(*in_coll, versions.c.semver == bindparam("s")),
            "alias": select(*cols)
            .select_from(
                aliases.join(collections, collections.c.id == aliases.c.collection_id).join(
                    versions, versions.c.id == aliases.c.version_id
                )
            )
            .where(*in_coll, aliases.c.alias == bindparam("a")),
            "exists": select(collections.c.id).where(*in_coll),
        }
    return _RESOLVE


def _not_found(project: str, name: str, selector: str, exists: bool) -> ArtifactNotFoundError:
    ref = f"{project}/{name}:{selector}"
    if not exists:
        return ArtifactNotFoundError(
            f"artifact {project}/{name} does not exist (asked for {ref}); "
            "check the name and project, or log it first"
        )
    if selector == LATEST:
        return ArtifactNotFoundError(
            f"{project}/{name} has no committed version yet (asked for {ref})"
        )
    if not (is_version_index(selector) or is_semver(selector)):
        return ArtifactNotFoundError(
            f"{project}/{name} has no version with alias {selector!r} (asked for {ref}); "
            f"list aliases with `artiflow ls {name}`"
        )
    return ArtifactNotFoundError(f"{ref} does not exist; list versions with `artiflow ls {name}`")


def collection_id(conn: Connection, project: str, name: str) -> int:
    """The id of collection ``project/name``; raises :class:`ArtifactNotFoundError`."""
    cid = conn.execute(
        select(collections.c.id).where(collections.c.project == project, collections.c.name == name)
    ).scalar()
    if cid is None:
        raise ArtifactNotFoundError(f"artifact {project}/{name} does not exist")
    return int(cid)


class QueriesMixin(Transactions):
    """Reading versions (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def latest_digest(self, project: str, name: str) -> str | None:
        """The digest of ``latest`` of a collection, or None (a cheap pre-check for no-op logs)."""
        with self.read() as conn:
            row = conn.execute(
                select(versions.c.digest)
                .join(collections, collections.c.id == versions.c.collection_id)
                .where(
                    collections.c.project == project,
                    collections.c.name == name,
                    versions.c.state == COMMITTED,
                )
                .order_by(versions.c.idx.desc())
                .limit(1)
            ).first()
            return row[0] if row else None

    def version_by_id(self, version_id: int, conn: Connection | None = None) -> VersionRecord:
        """One version by its database id."""
        with self.read(conn) as c:
            rows = version_rows(c, versions.c.id == version_id)
        if not rows:
            raise ArtifactNotFoundError(f"version id {version_id} does not exist")
        return rows[0]

    def versions_by_ids(
        self, ids: Sequence[int], conn: Connection | None = None
    ) -> dict[int, VersionRecord]:
        """Versions by database ids (missing ids are absent)."""
        out: dict[int, VersionRecord] = {}
        with self.read(conn) as c:
            for chunk in chunks(ids):
                out.update((row.id, row) for row in version_rows(c, versions.c.id.in_(chunk)))
        return out

    def version_summaries(
        self, ids: Sequence[int], conn: Connection | None = None
    ) -> dict[int, VersionSummary]:
        """What a lineage node shows of the versions ``ids`` (missing ids are absent): a few
        statements for any number of them, and no metadata, tags or description read.

        Example:
            >>> from artiflow.catalog import Catalog
            >>> cat = Catalog.open("sqlite://")
            >>> v, _, _ = cat.commit_version("p", "ds", "dataset", entries=[], digest="d" * 64, size=0)
            >>> s = cat.version_summaries([v.id])[v.id]
            >>> s.ref, s.aliases
            ('p/ds:v0', ('latest',))
        """
        with self.read(conn) as c:
            return version_summaries(c, ids)

    def run_summaries(
        self, ids: Sequence[str], conn: Connection | None = None
    ) -> dict[str, RunSummary]:
        """What a lineage node shows of the runs ``ids`` (missing ids are absent): their
        records without ``info`` and ``error``.

        Example:
            >>> from artiflow.catalog import Catalog
            >>> Catalog.open("sqlite://").run_summaries(["nope"])
            {}
        """
        with self.read(conn) as c:
            return run_summaries(c, ids)

    def resolve(self, project: str, name: str, selector: str) -> VersionRecord:
        """The committed version named by ``project/name:selector`` (one round trip)."""
        return self.resolve_hinted(project, name, selector)[0]

    def resolve_hinted(self, project: str, name: str, selector: str) -> tuple[VersionRecord, bool]:
        """:meth:`resolve`, and whether the version may be quarantined or tainted (read in the
        same statement): when not, a resolve through an alias needs no quarantine check."""
        stmts = resolve_statements()
        params: dict[str, Any] = {"p": project, "n": name}
        if selector == LATEST:
            stmt = stmts["latest"]
        elif is_version_index(selector):
            stmt, params["i"] = stmts["index"], int(selector[1:])
        elif is_semver(selector):
            stmt, params["s"] = stmts["semver"], selector
        else:
            stmt, params["a"] = stmts["alias"], selector
        with self.engine.connect() as conn:
            conn.execution_options(**self.single_read)
            r = conn.execute(stmt, params).first()
            found = r is not None or conn.execute(stmts["exists"], params).first() is not None
        if r is None:
            raise _not_found(project, name, selector, found)
        row = version_record(
            r,
            r.alias_list.split(",") if r.alias_list else [],
            r.tag_list.split(",") if r.tag_list else [],
        )
        ref = f"{project}/{name}:{selector}"
        if row.state == DELETED:
            raise ArtifactNotFoundError(
                f"{ref} was deleted; its lineage is kept but its content is not"
            )
        if row.state != COMMITTED:
            raise ArtifactNotFoundError(f"{ref} is not committed yet")
        return row, bool(r.needs_quarantine_check)

    def versions(
        self,
        project: str,
        name: str,
        *,
        states: Sequence[str] = (COMMITTED,),
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[VersionRecord]:
        """Versions of a collection, oldest first unless ``newest_first`` (two statements for
        a page; a third only when the page is empty, to tell it from a missing collection)."""
        order = versions.c.idx.desc() if newest_first else versions.c.idx
        with self.read() as conn:
            rows = page_rows(conn, project, name, states, order, limit, offset)
            if rows is None:
                collection_id(conn, project, name)  # raises when the collection is missing
                return []
            return rows

    def entries(
        self,
        version_id: int,
        *,
        paths: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        bind: Any = None,
    ) -> dict[str, Entry]:
        """The entries of a version (a link's entries are its target's), bound to ``bind``."""
        with self.read() as conn:
            q = select(*ENTRY_COLUMNS).where(entries.c.version_id == content_id(conn, version_id))
            if paths is not None:
                q = q.where(entries.c.path.in_(list(paths)))
            q = q.order_by(entries.c.path)
            if offset:
                q = q.offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return entries_of(conn.execute(q).all(), bind)

    def entry_pages(
        self, version_id: int, *, size: int = 10_000, bind: Any = None
    ) -> Iterator[list[Entry]]:
        """The entries of a version (a link's are its target's) sorted by path, in pages of at
        most ``size``: one keyset query per page (``path > last``, on the ``(version_id,
        path)`` key), each in a short read of its own, so neither memory nor a transaction
        grows with the number of files (a committed version's entries never change).

        Example:
            >>> from artiflow.catalog import Catalog
            >>> from artiflow.manifest import Entry
            >>> cat = Catalog.open("sqlite://")
            >>> files = [Entry(f"f{i}", digest=str(i) * 64, size=1) for i in range(5)]
            >>> v, _, _ = cat.commit_version("p", "ds", "dataset", entries=files, digest="d" * 64, size=5)
            >>> [[e.path for e in page] for page in cat.entry_pages(v.id, size=2)]
            [['f0', 'f1'], ['f2', 'f3'], ['f4']]
        """
        with self.read() as conn:
            vid = content_id(conn, version_id)
        after: Any = bindparam("after")
        first = select(*ENTRY_COLUMNS).where(entries.c.version_id == vid)
        nxt = first.where(entries.c.path > after)
        last: str | None = None
        while True:
            q = (first if last is None else nxt).order_by(entries.c.path).limit(size)
            with self.read() as conn:
                rows = conn.execute(q, {} if last is None else {"after": last}).all()
            if not rows:
                return
            last = rows[-1][0]
            yield list(entries_of(rows, bind).values())
            if len(rows) < size:
                return

    def produced_in(
        self,
        project: str,
        name: str,
        *,
        orchestrator: str,
        pipeline_run: str,
        pipeline: str | None = None,
        tasks: Sequence[str] | None = None,
    ) -> VersionRecord | None:
        """The newest committed version of ``project/name`` logged by a run of ``pipeline_run``."""
        q = (
            select(versions.c.id)
            .join(run_io, run_io.c.version_id == versions.c.id)
            .join(runs, runs.c.id == run_io.c.run_id)
            .join(collections, collections.c.id == versions.c.collection_id)
            .where(
                run_io.c.direction == "logged",
                runs.c.orchestrator == orchestrator,
                runs.c.pipeline_run == pipeline_run,
                collections.c.project == project,
                collections.c.name == name,
                versions.c.state == COMMITTED,
            )
            .order_by(run_io.c.at.desc(), versions.c.idx.desc())
            .limit(1)
        )
        if pipeline is not None:
            q = q.where(runs.c.pipeline == pipeline)
        if tasks is not None:
            q = q.where(runs.c.task.in_(list(tasks) or [""]))
        with self.read() as conn:
            vid = conn.execute(q).scalar()
            return self.version_by_id(vid, conn) if vid is not None else None


def content_id(conn: Connection, version_id: int) -> int:
    """The version whose entries ``version_id`` has: its link target, or itself."""
    target = conn.execute(select(versions.c.target_id).where(versions.c.id == version_id)).scalar()
    return int(target) if target is not None else version_id
