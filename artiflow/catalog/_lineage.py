"""Lineage SQL: the recursive walk over ``run_io`` and registry links.

Example:
    >>> from artiflow.catalog import Catalog
    >>> Catalog.open("sqlite://").lineage_edges(1, upstream=True, depth=3)
    []
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, or_, select, text

from ._records import DELETED
from ._rows import chunks
from ._tx import Transactions
from .models import versions

__all__ = ["MAX_LINEAGE_DEPTH", "LineageMixin"]

MAX_LINEAGE_DEPTH = 10_000

_WALK = text(
    """
    WITH RECURSIVE walk(vid, d) AS (
        SELECT CAST(:root AS INTEGER), 0
        UNION
        SELECT u.version_id, w.d + 1
        FROM walk w
        JOIN run_io l ON l.version_id = w.vid AND l.direction = :first
        JOIN run_io u ON u.run_id = l.run_id AND u.direction = :second
        WHERE w.d < :maxd
    ),
    near AS (SELECT vid FROM walk GROUP BY vid HAVING MIN(d) < :maxd)
    SELECT l.run_id, l.version_id, u.version_id
    FROM near
    JOIN run_io l ON l.version_id = near.vid AND l.direction = :first
    LEFT JOIN run_io u ON u.run_id = l.run_id AND u.direction = :second
    """
)


class LineageMixin(Transactions):
    """Lineage queries (a mixin of :class:`~artiflow.catalog.Catalog`)."""

    def lineage_edges(
        self, root_id: int, *, upstream: bool, depth: int | None, conn: Connection | None = None
    ) -> list[tuple[str, int, int | None]]:
        """All ``(run_id, near_version, far_version)`` steps within ``depth`` runs of ``root_id``,
        in ONE recursive query. Upstream, ``near`` was logged by the run and ``far`` used by it;
        downstream the reverse. ``far`` is None for a run with no such edge. Cycles (a run that
        re-logs an existing version) are bounded by the depth, at most :data:`MAX_LINEAGE_DEPTH`."""
        first, second = ("logged", "used") if upstream else ("used", "logged")
        maxd = MAX_LINEAGE_DEPTH if depth is None else min(depth, MAX_LINEAGE_DEPTH)
        params = {"root": root_id, "first": first, "second": second, "maxd": maxd}
        with self.read(conn) as c:
            return [
                (r[0], int(r[1]), None if r[2] is None else int(r[2]))
                for r in c.execute(_WALK, params)
            ]

    def has_links(self, conn: Connection | None = None) -> bool:
        """True when any registry collection links a version (lets lineage skip link lookups)."""
        q = select(versions.c.id).where(versions.c.target_id.is_not(None)).limit(1)
        with self.read(conn) as c:
            return c.execute(q).first() is not None

    def links_of(
        self, version_ids: Sequence[int], conn: Connection | None = None
    ) -> list[tuple[int, int]]:
        """``(member_id, target_id)`` pairs where a registry member links one of the versions,
        or one of the versions is a member."""
        out: list[tuple[int, int]] = []
        with self.read(conn) as c:
            for chunk in chunks(version_ids):
                q = select(versions.c.id, versions.c.target_id).where(
                    versions.c.target_id.is_not(None),
                    or_(versions.c.target_id.in_(chunk), versions.c.id.in_(chunk)),
                    versions.c.state != DELETED,
                )
                out.extend((r.id, r.target_id) for r in c.execute(q))
        return out
