"""dashboard users, their project roles, web sessions and login throttles"""

import sqlalchemy as sa
from alembic import op

from kirem.db.migrations.columns import (
    boolean,
    foreign_key,
    integer,
    primary_key,
    string,
    string_id,
    text,
    timestamp,
    unique,
)

revision = "0013_dashboard_users"
down_revision = "0012_usage_and_plan_changes"


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        string_id(),
        string_id("account_id"),
        string("email", 254),
        text("password_hash"),
        boolean("account_owner", server_default=sa.false()),
        timestamp("created_at"),
        foreign_key("fk_dashboard_users_account_id_accounts", "account_id", "accounts", "CASCADE"),
        primary_key("pk_dashboard_users", "id"),
        unique("uq_dashboard_users_email", "email"),
    )
    op.create_index("ix_dashboard_users_account_id", "dashboard_users", ["account_id"])
    op.create_table(
        "dashboard_memberships",
        string_id("user_id"),
        string_id("project_id"),
        string("role", 16),
        timestamp("created_at"),
        foreign_key("fk_dashboard_memberships_project_id_projects", "project_id", "projects", "CASCADE"),
        foreign_key(
            "fk_dashboard_memberships_user_id_dashboard_users", "user_id", "dashboard_users", "CASCADE"
        ),
        primary_key("pk_dashboard_memberships", "user_id", "project_id"),
    )
    op.create_index("ix_dashboard_memberships_project_id", "dashboard_memberships", ["project_id"])
    op.create_table(
        "dashboard_sessions",
        string("id_hash", 64),
        string_id("user_id", nullable=True),
        boolean("operator", server_default=sa.false()),
        string("csrf_token", 64),
        timestamp("last_seen_at"),
        timestamp("expires_at"),
        timestamp("created_at"),
        foreign_key("fk_dashboard_sessions_user_id_dashboard_users", "user_id", "dashboard_users", "CASCADE"),
        primary_key("pk_dashboard_sessions", "id_hash"),
    )
    op.create_index("ix_dashboard_sessions_user_id", "dashboard_sessions", ["user_id"])
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])
    op.create_table(
        "dashboard_login_throttles",
        string("key", 300),
        integer("failures"),
        timestamp("window_started_at"),
        timestamp("locked_until", nullable=True),
        primary_key("pk_dashboard_login_throttles", "key"),
    )


def downgrade() -> None:
    for table in (
        "dashboard_login_throttles",
        "dashboard_sessions",
        "dashboard_memberships",
        "dashboard_users",
    ):
        op.drop_table(table)
