"""versions.revision: a counter bumped by every label edit (optimistic concurrency of saves)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD/DROP COLUMN (SQLite >= 3.35 has both): a batch copy of the table would trip
    # the foreign keys that point at versions
    op.add_column(
        "versions", sa.Column("revision", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("versions", "revision")
