"""onboarding: sandbox Embedded Signup state

Sandbox numbers record whether the sandbox app is subscribed to their WABA and whether they are
registered; numbers that exist already were provisioned for Kirem, so they are both.

Revision ID: 0010_onboarding
Revises: 0009_customer_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_onboarding"
down_revision = "0009_customer_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_numbers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("app_subscribed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("registered", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_numbers", schema=None) as batch_op:
        batch_op.drop_column("registered")
        batch_op.drop_column("app_subscribed")
