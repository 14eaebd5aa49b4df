"""run locks: the version each ref resolved to first in a pipeline run, kept locks, replays

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("orchestrator", sa.String(length=32), nullable=False),
        sa.Column("pipeline", sa.String(length=255), server_default="", nullable=False),
        sa.Column("pipeline_run", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("kept_by", sa.String(length=255), nullable=True),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kept_reason", sa.Text(), nullable=True),
        sa.Column("replay_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["replay_of"], ["run_locks.id"], name=op.f("fk_run_locks_replay_of_run_locks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_locks")),
        sa.UniqueConstraint("orchestrator", "pipeline", "pipeline_run", name="uq_run_locks_key"),
    )
    op.create_table(
        "run_lock_entries",
        sa.Column("lock_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=400), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lock_id"], ["run_locks.id"], name=op.f("fk_run_lock_entries_lock_id_run_locks")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_run_lock_entries_version_id_versions"),
        ),
        sa.PrimaryKeyConstraint("lock_id", "ref", name=op.f("pk_run_lock_entries")),
    )
    op.create_table(
        "replay_outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lock_id", sa.Integer(), nullable=False),
        sa.Column("original_lock_id", sa.Integer(), nullable=False),
        sa.Column("collection", sa.String(length=300), nullable=False),
        sa.Column("task", sa.String(length=255), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("original_version_id", sa.Integer(), nullable=True),
        sa.Column("original_digest", sa.String(length=64), nullable=True),
        sa.Column("reproduced", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lock_id"], ["run_locks.id"], name=op.f("fk_replay_outputs_lock_id_run_locks")
        ),
        sa.ForeignKeyConstraint(
            ["original_lock_id"],
            ["run_locks.id"],
            name=op.f("fk_replay_outputs_original_lock_id_run_locks"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_replay_outputs_version_id_versions")
        ),
        sa.ForeignKeyConstraint(
            ["original_version_id"],
            ["versions.id"],
            name=op.f("fk_replay_outputs_original_version_id_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_outputs")),
        sa.UniqueConstraint("lock_id", "collection", name="uq_replay_outputs_lock_collection"),
    )


def downgrade() -> None:
    op.drop_table("replay_outputs")
    op.drop_table("run_lock_entries")
    op.drop_table("run_locks")
