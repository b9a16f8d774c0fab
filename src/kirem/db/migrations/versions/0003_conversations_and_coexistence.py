"""conversations and coexistence"""

from alembic import op
from sqlalchemy import String

from kirem.db.base import UTCDateTime
from kirem.db.migrations.columns import (
    foreign_key,
    primary_key,
    serial_id,
    string,
    string_id,
    text,
    timestamp,
    unique,
)

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "channel_contacts",
        serial_id(),
        string_id("project_id"),
        string_id("channel_id"),
        string("wa_id", 32),
        string("full_name", 200),
        string("first_name", 200),
        timestamp("updated_at"),
        foreign_key("fk_channel_contacts_channel_id_channels", "channel_id", "channels", "CASCADE"),
        foreign_key("fk_channel_contacts_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_channel_contacts", "id"),
        unique("uq_channel_contacts_channel_id", "channel_id", "wa_id"),
    )
    op.create_index("ix_channel_contacts_project_id", "channel_contacts", ["project_id"])
    op.create_table(
        "conversations",
        string("id", 36),
        string_id("project_id"),
        string_id("channel_id"),
        string("customer_wa_id", 32),
        string("customer_name", 200),
        string("status", 16),
        timestamp("last_customer_message_at", nullable=True),
        timestamp("human_active_until", nullable=True),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_conversations_channel_id_channels", "channel_id", "channels", "CASCADE"),
        foreign_key("fk_conversations_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_conversations", "id"),
        unique("uq_conversations_channel_id", "channel_id", "customer_wa_id"),
    )
    op.create_index(
        "ix_conversations_project_status_updated", "conversations", ["project_id", "status", "updated_at"]
    )
    with op.batch_alter_table("message_logs") as batch_op:
        batch_op.add_column(string("conversation_id", 36, nullable=True))
        batch_op.add_column(string("author", 16, server_default=""))
        batch_op.add_column(text("text", nullable=True))
        batch_op.add_column(timestamp("occurred_at", nullable=True))
        batch_op.create_index("ix_message_logs_conversation", ["conversation_id", "occurred_at"])
        batch_op.create_foreign_key(
            "fk_message_logs_conversation_id_conversations",
            "conversations",
            ["conversation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Existing log entries happened when they were logged; then the column becomes required.
    op.execute("UPDATE message_logs SET occurred_at = created_at")
    with op.batch_alter_table("message_logs") as batch_op:
        batch_op.alter_column("occurred_at", existing_type=UTCDateTime(timezone=True), nullable=False)
        batch_op.alter_column("author", existing_type=String(length=16), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("message_logs") as batch_op:
        batch_op.drop_constraint("fk_message_logs_conversation_id_conversations", type_="foreignkey")
        batch_op.drop_index("ix_message_logs_conversation")
        for column in ("occurred_at", "text", "author", "conversation_id"):
            batch_op.drop_column(column)
    op.drop_table("conversations")
    op.drop_table("channel_contacts")
