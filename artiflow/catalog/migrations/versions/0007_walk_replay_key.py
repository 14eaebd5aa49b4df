"""the downstream walk in one statement on PostgreSQL: ``artiflow_downstream(root, max_depth)``

A PL/pgSQL function that walks downstream of a version breadth first, level by level, exactly
like the client loop it replaces (``artiflow/_ops/impact.py`` ``walk_downstream``): the runs
that consumed a version and what they logged, and the registry members linking it; each
version found once, at its shortest distance, with the step that reached it (the smallest
parent id, then the smallest run id, a registry link last). Rows: ``(version_id, depth,
parent_id, run_id)``, the root not included. One round trip instead of one per level (impact
at depth 5, quarantine at every depth). SQLite keeps the client loop (no round trips there).

It reads ``run_io (run_id, version_id, direction)`` and ``versions (id, target_id)``: a
migration that changes those columns replaces it.

Also: replay comparisons per producing task: ``replay_outputs`` is keyed by ``(lock_id,
collection, task)`` instead of ``(lock_id, collection)``, so when two tasks of one run write
the same collection each is compared with the original's output of that task (the last no
longer replaces the first).

Revision ID: 0007
Revises: 0006 (taints, freshness)
Create Date: 2026-12-04 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DOWNSTREAM = """
CREATE OR REPLACE FUNCTION artiflow_downstream(root integer, max_depth integer)
RETURNS TABLE(version_id integer, depth integer, parent_id integer, run_id text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    frontier integer[] := ARRAY[root];
    seen integer[] := ARRAY[root];
    new_v integer[];
    new_p integer[];
    new_r text[];
    d integer := 0;
BEGIN
    WHILE d < max_depth LOOP
        d := d + 1;
        SELECT array_agg(q.dst), array_agg(q.src), array_agg(q.run)
        INTO new_v, new_p, new_r
        FROM (
            SELECT DISTINCT ON (st.dst) st.dst, st.src, st.run
            FROM (
                SELECT s.v AS src, u.run_id::text AS run, l.version_id AS dst
                FROM unnest(frontier) AS s(v)
                CROSS JOIN LATERAL (
                    SELECT r.run_id FROM run_io r
                    WHERE r.version_id = s.v AND r.direction = 'used'
                ) u
                CROSS JOIN LATERAL (
                    SELECT r.version_id FROM run_io r
                    WHERE r.run_id = u.run_id AND r.direction = 'logged'
                ) l
                UNION ALL
                SELECT m.target_id, NULL, m.id FROM versions m WHERE m.target_id = ANY(frontier)
            ) st
            WHERE st.dst <> st.src
              AND NOT EXISTS (SELECT 1 FROM unnest(seen) AS x(v) WHERE x.v = st.dst)
            ORDER BY st.dst, st.src, st.run COLLATE "C" NULLS LAST
        ) q;
        EXIT WHEN new_v IS NULL;
        RETURN QUERY SELECT t.v, d, t.p, t.r FROM unnest(new_v, new_p, new_r) AS t(v, p, r);
        frontier := new_v;
        seen := seen || new_v;
    END LOOP;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWNSTREAM)
    with op.batch_alter_table("replay_outputs") as batch:
        batch.drop_constraint("uq_replay_outputs_lock_collection", type_="unique")
        batch.create_unique_constraint(
            "uq_replay_outputs_lock_task", ["lock_id", "collection", "task"]
        )


def downgrade() -> None:
    # back to one row per collection: keep the newest comparison of each (lock, collection)
    op.execute(
        "DELETE FROM replay_outputs WHERE id NOT IN (SELECT max(id) FROM replay_outputs "
        "GROUP BY lock_id, collection)"
    )
    with op.batch_alter_table("replay_outputs") as batch:
        batch.drop_constraint("uq_replay_outputs_lock_task", type_="unique")
        batch.create_unique_constraint(
            "uq_replay_outputs_lock_collection", ["lock_id", "collection"]
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS artiflow_downstream(integer, integer)")
