"""delivery attempts keep the request headers they were sent with (custom values masked)

The dashboard's attempt detail shows them.

Revision ID: 0014_attempt_headers
Revises: 0013_dashboard_users
Create Date: 2026-11-29 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_attempt_headers"
down_revision = "0013_dashboard_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_column("request_headers")
