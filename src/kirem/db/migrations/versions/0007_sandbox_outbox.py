"""sandbox webhook outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 14:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kirem.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lane", sa.String(length=160), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("due_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("leased_by", sa.String(length=32), nullable=True),
        sa.Column("lease_expires_at", kirem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_outbox")),
    )
    with op.batch_alter_table("sandbox_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_outbox_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_sandbox_outbox_lane_id", ["lane", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sandbox_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_outbox_lane_id")
        batch_op.drop_index("ix_sandbox_outbox_due_at")
    op.drop_table("sandbox_outbox")
