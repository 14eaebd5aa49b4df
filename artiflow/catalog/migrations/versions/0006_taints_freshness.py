"""lineage control at scale: the taint of each quarantine, per-alias freshness (max_age)

* ``quarantine_taints``: the versions downstream of a quarantined version when it was
  quarantined (with their distance), so resolving an alias is one indexed lookup however many
  versions are quarantined; ``quarantines.watermark`` is the newest version id that list covers
  (versions logged later are checked by walking upstream until a covered one);
* ``alias_freshness``: the optional maximum age of an alias and when it was last announced
  overdue;
* ``ix_versions_state_id``: the oldest PENDING version (the watermark) without a scan.

Revision ID: 0006
Revises: 0005 (lineage control)
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the oldest PENDING version in one index probe (every quarantine reads it: its watermark)
    op.create_index("ix_versions_state_id", "versions", ["state", "id"])
    with op.batch_alter_table("quarantines") as batch:  # 0 on older rows: walk everything
        batch.add_column(sa.Column("watermark", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(  # the active quarantines in watermark order (a partial index)
        "ix_quarantines_active_mark",
        "quarantines",
        ["watermark"],
        postgresql_where=sa.text("released_at IS NULL"),
        sqlite_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "quarantine_taints",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("quarantine_id", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_quarantine_taints_version_id_versions")
        ),
        sa.ForeignKeyConstraint(
            ["quarantine_id"],
            ["quarantines.id"],
            name=op.f("fk_quarantine_taints_quarantine_id_quarantines"),
        ),
        sa.PrimaryKeyConstraint("version_id", "quarantine_id", name=op.f("pk_quarantine_taints")),
    )
    op.create_index("ix_quarantine_taints_quarantine", "quarantine_taints", ["quarantine_id"])
    op.create_table(
        "alias_freshness",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_version_id", sa.Integer(), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_alias_freshness_collection_id_collections"),
        ),
        sa.PrimaryKeyConstraint("collection_id", "alias", name=op.f("pk_alias_freshness")),
    )


def downgrade() -> None:
    op.drop_index("ix_versions_state_id", table_name="versions")
    op.drop_table("alias_freshness")
    op.drop_index("ix_quarantine_taints_quarantine", table_name="quarantine_taints")
    op.drop_table("quarantine_taints")
    op.drop_index("ix_quarantines_active_mark", table_name="quarantines")
    with op.batch_alter_table("quarantines") as batch:
        batch.drop_column("watermark")
