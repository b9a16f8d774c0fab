"""onboarding: Customer Setup Links, dedicated outbound addresses, the sandbox's Embedded Signup state

Setup links are a new table. Projects get ``egress`` (where webhook deliveries leave from; empty for
existing projects: the default way). Sandbox numbers record whether the sandbox app is subscribed to their
WABA and whether they are registered; numbers that exist already were provisioned for Kirem, so
they are both.
"""

import sqlalchemy as sa
from alembic import op

from kirem.db.migrations.columns import (
    boolean,
    foreign_key,
    json,
    primary_key,
    string,
    string_id,
    text,
    timestamp,
    unique,
)

revision = "0011_onboarding"
down_revision = "0010_enterprise"


def upgrade() -> None:
    op.create_table(
        "setup_links",
        string_id(),
        string_id("account_id"),
        string_id("project_id"),
        string("client_name", 200),
        text("redirect_url"),
        boolean("coexistence"),
        string("mode", 8),
        string("token_hash", 64),
        text("pin_sealed"),
        string("status", 16),
        text("failure_reason", nullable=True),
        timestamp("expires_at"),
        timestamp("completed_at", nullable=True),
        string_id("client_project_id", nullable=True),
        string_id("channel_id", nullable=True),
        timestamp("created_at"),
        foreign_key("fk_setup_links_account_id_accounts", "account_id", "accounts", "CASCADE"),
        foreign_key("fk_setup_links_project_id_projects", "project_id", "projects", "CASCADE"),
        foreign_key("fk_setup_links_client_project_id_projects", "client_project_id", "projects", "SET NULL"),
        foreign_key("fk_setup_links_channel_id_channels", "channel_id", "channels", "SET NULL"),
        primary_key("pk_setup_links", "id"),
        unique("uq_setup_links_token_hash", "token_hash"),
    )
    op.add_column("projects", json("egress", server_default="{}"))
    op.create_index("ix_setup_links_account_id", "setup_links", ["account_id"])
    op.create_index("ix_setup_links_project_created", "setup_links", ["project_id", "created_at"])
    with op.batch_alter_table("sandbox_numbers") as batch_op:
        batch_op.add_column(boolean("app_subscribed", server_default=sa.true()))
        batch_op.add_column(boolean("registered", server_default=sa.true()))


def downgrade() -> None:
    op.drop_table("setup_links")
    # In place, not a batch table copy: on SQLite dropping the copied projects table would delete
    # every row whose foreign key cascades from it (targets, rules, keys, channels…).
    op.drop_column("projects", "egress")
    with op.batch_alter_table("sandbox_numbers") as batch_op:
        batch_op.drop_column("registered")
        batch_op.drop_column("app_subscribed")
