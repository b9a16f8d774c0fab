"""onboarding: Customer Setup Links, dedicated outbound addresses, the sandbox's Embedded Signup state

Setup links are a new table. Projects get ``egress`` (where webhook deliveries leave from; empty for
existing projects: the default way). Sandbox numbers record whether the sandbox app is subscribed to their
WABA and whether they are registered; numbers that exist already were provisioned for Kirem, so
they are both.

Revision ID: 0011_onboarding
Revises: 0010_enterprise
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kirem.db.base import UTCDateTime

revision = "0011_onboarding"
down_revision = "0010_enterprise"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setup_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=False),
        sa.Column("coexistence", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("pin_sealed", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("client_project_id", sa.String(length=40), nullable=True),
        sa.Column("channel_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_setup_links_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_setup_links_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_project_id"],
            ["projects.id"],
            name=op.f("fk_setup_links_client_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_setup_links_channel_id_channels"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_setup_links_token_hash")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("egress", sa.JSON(), nullable=False, server_default="{}"))
    op.create_index(op.f("ix_setup_links_account_id"), "setup_links", ["account_id"], unique=False)
    op.create_index(
        "ix_setup_links_project_created", "setup_links", ["project_id", "created_at"], unique=False
    )
    with op.batch_alter_table("sandbox_numbers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("app_subscribed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("registered", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_index("ix_setup_links_project_created", table_name="setup_links")
    op.drop_index(op.f("ix_setup_links_account_id"), table_name="setup_links")
    op.drop_table("setup_links")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("egress")
    with op.batch_alter_table("sandbox_numbers", schema=None) as batch_op:
        batch_op.drop_column("registered")
        batch_op.drop_column("app_subscribed")
