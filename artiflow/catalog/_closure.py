"""The whole upstream closure of a version in ONE recursive query (no depth bound).

Everything a version was built from: the inputs of the run that logged it, their inputs, and so
on, plus registry links (a member's target). Same answer as walking
:func:`artiflow.catalog._control.upstream_steps` level by level, without one statement per level.

Example:
    >>> from artiflow.catalog import Catalog
    >>> cat = Catalog.open("sqlite://")
    >>> with cat.read() as conn:
    ...     upstream_closure(conn, 1)
    []
"""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["upstream_closure"]

# PostgreSQL allows one reference to the recursive CTE: both kinds of step sit in a LATERAL
# subquery, each an index lookup (run_io(version_id, direction), run_io(run_id, direction),
# versions' primary key) per visited version.
_PG = text(
    """
    WITH RECURSIVE up(vid) AS (
        SELECT CAST(:root AS INTEGER)
        UNION
        SELECT s.src
        FROM up
        CROSS JOIN LATERAL (
            SELECT u.version_id AS src
            FROM run_io l
            JOIN run_io u ON u.run_id = l.run_id AND u.direction = 'used'
            WHERE l.version_id = up.vid AND l.direction = 'logged'
            UNION ALL
            SELECT v.target_id FROM versions v WHERE v.id = up.vid AND v.target_id IS NOT NULL
        ) s
        WHERE s.src <> up.vid
    )
    SELECT vid FROM up WHERE vid <> :root ORDER BY vid
    """
)

# SQLite has no LATERAL but takes several recursive SELECTs in one compound.
_SQLITE = text(
    """
    WITH RECURSIVE up(vid) AS (
        SELECT CAST(:root AS INTEGER)
        UNION
        SELECT u.version_id
        FROM up
        JOIN run_io l ON l.version_id = up.vid AND l.direction = 'logged'
        JOIN run_io u ON u.run_id = l.run_id AND u.direction = 'used'
        WHERE u.version_id <> up.vid
        UNION
        SELECT v.target_id
        FROM up
        JOIN versions v ON v.id = up.vid
        WHERE v.target_id IS NOT NULL AND v.target_id <> up.vid
    )
    SELECT vid FROM up WHERE vid <> :root ORDER BY vid
    """
)


def upstream_closure(conn: Connection, version_id: int) -> list[int]:
    """The ids of every version upstream of ``version_id`` (sorted, without it), at any depth.

    Example:
        >>> from artiflow.catalog import Catalog
        >>> with Catalog.open("sqlite://").read() as conn:
        ...     upstream_closure(conn, 42)
        []
    """
    stmt = _PG if conn.dialect.name == "postgresql" else _SQLITE
    return [int(v) for (v,) in conn.execute(stmt, {"root": version_id})]
