"""dashboard users, their project roles, web sessions and login throttles

Revision ID: 0013_dashboard_users
Revises: 0012_usage_and_plan_changes
Create Date: 2026-11-29 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kirem.db.base

revision = "0013_dashboard_users"
down_revision = "0012_usage_and_plan_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("account_owner", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_dashboard_users_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_users")),
        sa.UniqueConstraint("email", name=op.f("uq_dashboard_users_email")),
    )
    op.create_index(op.f("ix_dashboard_users_account_id"), "dashboard_users", ["account_id"])
    op.create_table(
        "dashboard_memberships",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_dashboard_memberships_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["dashboard_users.id"],
            name=op.f("fk_dashboard_memberships_user_id_dashboard_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "project_id", name=op.f("pk_dashboard_memberships")),
    )
    op.create_index(op.f("ix_dashboard_memberships_project_id"), "dashboard_memberships", ["project_id"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("operator", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["dashboard_users.id"],
            name=op.f("fk_dashboard_sessions_user_id_dashboard_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_dashboard_sessions")),
    )
    op.create_index(op.f("ix_dashboard_sessions_user_id"), "dashboard_sessions", ["user_id"])
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])
    op.create_table(
        "dashboard_login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", kirem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dashboard_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_login_throttles")
    op.drop_index("ix_dashboard_sessions_expires_at", table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_user_id"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_memberships_project_id"), table_name="dashboard_memberships")
    op.drop_table("dashboard_memberships")
    op.drop_index(op.f("ix_dashboard_users_account_id"), table_name="dashboard_users")
    op.drop_table("dashboard_users")
