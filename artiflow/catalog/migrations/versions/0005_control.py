"""lineage control: quarantines, version checks, protected aliases, alias audit, consumed-via

Revision ID: 0005
Revises: 0004 (run locks)
Create Date: 2026-12-03 06:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("quarantined_by", sa.Text(), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.Text(), nullable=True),
        sa.Column("release_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_quarantines_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantines")),
    )
    op.create_index("ix_quarantines_version", "quarantines", ["version_id", "released_at"])
    op.create_index("ix_quarantines_active", "quarantines", ["released_at"])
    op.create_table(
        "version_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_version_checks_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_checks")),
    )
    op.create_index("ix_version_checks_version", "version_checks", ["version_id", "name"])
    op.create_table(
        "protected_aliases",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("require_checks", sa.JSON(), nullable=False),
        sa.Column("require_clean_upstream", sa.Boolean(), nullable=False),
        sa.Column("protected_by", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_protected_aliases_collection_id_collections"),
        ),
        sa.PrimaryKeyConstraint("collection_id", "alias", name=op.f("pk_protected_aliases")),
    )
    op.create_table(
        "promotion_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("moved_by", sa.Text(), nullable=True),
        sa.Column("via", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_promotion_audit_collection_id_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_promotion_audit_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_audit")),
    )
    op.create_index(
        "ix_promotion_audit_collection", "promotion_audit", ["collection_id", "alias", "id"]
    )
    op.create_table(
        "consumed_via",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_consumed_via_version_id_versions")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_consumed_via_collection_id_collections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumed_via")),
    )
    op.create_index("ix_consumed_via_run", "consumed_via", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_consumed_via_run", table_name="consumed_via")
    op.drop_table("consumed_via")
    op.drop_index("ix_promotion_audit_collection", table_name="promotion_audit")
    op.drop_table("promotion_audit")
    op.drop_table("protected_aliases")
    op.drop_index("ix_version_checks_version", table_name="version_checks")
    op.drop_table("version_checks")
    op.drop_index("ix_quarantines_active", table_name="quarantines")
    op.drop_index("ix_quarantines_version", table_name="quarantines")
    op.drop_table("quarantines")
