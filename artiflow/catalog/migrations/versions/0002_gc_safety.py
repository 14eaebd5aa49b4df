"""gc safety: the gc coordination row and intents, tombstones of collected pending versions,
pending versions aging by their last upsert

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    gc_state = op.create_table(
        "gc_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("floor", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gc_state")),
    )
    op.bulk_insert(gc_state, [{"id": 1, "epoch": 0, "floor": 0}])
    op.create_table(
        "gc_intents",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_gc_intents")),
    )
    with op.batch_alter_table("gc_intents", schema=None) as batch_op:
        batch_op.create_index("ix_gc_intents_epoch", ["epoch"], unique=False)
    op.create_table(
        "pending_tombstones",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("distributed_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_upsert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_pending_tombstones_collection_id_collections"),
        ),
        sa.PrimaryKeyConstraint(
            "collection_id", "distributed_id", name=op.f("pk_pending_tombstones")
        ),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_upsert_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # a plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of ``versions`` would
    # break the foreign keys of ``entries`` that point at it
    op.drop_column("versions", "last_upsert_at")
    op.drop_table("pending_tombstones")
    with op.batch_alter_table("gc_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_gc_intents_epoch")
    op.drop_table("gc_intents")
    op.drop_table("gc_state")
