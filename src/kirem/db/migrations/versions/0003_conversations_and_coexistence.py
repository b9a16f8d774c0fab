"""conversations and coexistence

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 16:46:33.365771
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kirem.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_contacts_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_channel_contacts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_contacts")),
        sa.UniqueConstraint("channel_id", "wa_id", name=op.f("uq_channel_contacts_channel_id")),
    )
    with op.batch_alter_table("channel_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_contacts_project_id"), ["project_id"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("customer_wa_id", sa.String(length=32), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_customer_message_at", kirem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("human_active_until", kirem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", kirem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_conversations_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_conversations_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("channel_id", "customer_wa_id", name=op.f("uq_conversations_channel_id")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_project_status_updated", ["project_id", "status", "updated_at"], unique=False
        )

    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("author", sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("occurred_at", kirem.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_message_logs_conversation", ["conversation_id", "occurred_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_message_logs_conversation_id_conversations"),
            "conversations",
            ["conversation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Existing log entries happened when they were logged; then the column becomes required.
    op.execute("UPDATE message_logs SET occurred_at = created_at")
    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.alter_column(
            "occurred_at", existing_type=kirem.db.base.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.alter_column("author", existing_type=sa.String(length=16), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_message_logs_conversation_id_conversations"), type_="foreignkey"
        )
        batch_op.drop_index("ix_message_logs_conversation")
        batch_op.drop_column("occurred_at")
        batch_op.drop_column("text")
        batch_op.drop_column("author")
        batch_op.drop_column("conversation_id")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_project_status_updated")

    op.drop_table("conversations")
    with op.batch_alter_table("channel_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_contacts_project_id"))

    op.drop_table("channel_contacts")
