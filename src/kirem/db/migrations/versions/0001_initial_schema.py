"""initial schema"""

from alembic import op

from kirem.db.migrations.columns import (
    big_integer,
    binary,
    foreign_key,
    integer,
    json,
    primary_key,
    serial_id,
    string,
    string_id,
    text,
    timestamp,
    unique,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        string_id(),
        string("name", 200),
        string("plan", 32),
        json("limit_overrides"),
        timestamp("created_at"),
        primary_key("pk_accounts", "id"),
        unique("uq_accounts_name", "name"),
    )
    op.create_table(
        "pending_statuses",
        serial_id(),
        string("message_id", 255),
        string("status", 16),
        integer("error_code", nullable=True),
        text("error_message", nullable=True),
        timestamp("received_at"),
        primary_key("pk_pending_statuses", "id"),
    )
    op.create_index("ix_pending_statuses_message_id", "pending_statuses", ["message_id"])
    _create_sandbox_tables()
    op.create_table(
        "account_tokens",
        string_id(),
        string_id("account_id"),
        string("token_hash", 64),
        string("prefix", 32),
        timestamp("revoked_at", nullable=True),
        timestamp("last_used_at", nullable=True),
        timestamp("created_at"),
        foreign_key("fk_account_tokens_account_id_accounts", "account_id", "accounts", "CASCADE"),
        primary_key("pk_account_tokens", "id"),
        unique("uq_account_tokens_token_hash", "token_hash"),
    )
    op.create_index("ix_account_tokens_account_id", "account_tokens", ["account_id"])
    op.create_table(
        "daily_usage",
        string_id("account_id"),
        string("day", 10),
        integer("outbound_messages"),
        foreign_key("fk_daily_usage_account_id_accounts", "account_id", "accounts", "CASCADE"),
        primary_key("pk_daily_usage", "account_id", "day"),
    )
    op.create_table(
        "projects",
        string_id(),
        string_id("account_id"),
        string("name", 200),
        text("webhook_secret_sealed"),
        timestamp("created_at"),
        foreign_key("fk_projects_account_id_accounts", "account_id", "accounts", "CASCADE"),
        primary_key("pk_projects", "id"),
        unique("uq_projects_account_id", "account_id", "name"),
    )
    op.create_index("ix_projects_account_id", "projects", ["account_id"])
    _create_project_tables()


def _create_sandbox_tables() -> None:
    op.create_table(
        "sandbox_media",
        string("id", 20),
        string("phone_number_id", 20),
        string("mime_type", 255),
        string("sha256", 64),
        big_integer("file_size"),
        string("filename", 255, nullable=True),
        binary("data"),
        timestamp("created_at"),
        primary_key("pk_sandbox_media", "id"),
    )
    op.create_index("ix_sandbox_media_phone_number_id", "sandbox_media", ["phone_number_id"])
    op.create_table(
        "sandbox_messages",
        string("wamid", 128),
        string("phone_number_id", 20),
        string("direction", 3),
        string("wa_id", 20),
        string("type", 20),
        timestamp("created_at"),
        primary_key("pk_sandbox_messages", "wamid"),
    )
    op.create_index("ix_sandbox_messages_number_wa_id", "sandbox_messages", ["phone_number_id", "wa_id"])
    op.create_table(
        "sandbox_numbers",
        string("phone_number_id", 20),
        string("waba_id", 20),
        string("display_phone_number", 20),
        string("verified_name", 255),
        string("access_token_hash", 64),
        json("business_profile"),
        timestamp("created_at"),
        primary_key("pk_sandbox_numbers", "phone_number_id"),
        unique("uq_sandbox_numbers_access_token_hash", "access_token_hash"),
        unique("uq_sandbox_numbers_display_phone_number", "display_phone_number"),
    )
    op.create_index("ix_sandbox_numbers_waba_id", "sandbox_numbers", ["waba_id"])
    op.create_table(
        "sandbox_templates",
        string("id", 20),
        string("waba_id", 20),
        string("name", 512),
        string("language", 16),
        string("category", 20),
        json("components"),
        string("status", 16),
        string("rejected_reason", 64, nullable=True),
        timestamp("review_at", nullable=True),
        timestamp("created_at"),
        primary_key("pk_sandbox_templates", "id"),
        unique("uq_sandbox_templates_waba_name_language", "waba_id", "name", "language"),
    )
    op.create_index("ix_sandbox_templates_status", "sandbox_templates", ["status"])
    op.create_index("ix_sandbox_templates_waba_id", "sandbox_templates", ["waba_id"])
    op.create_table(
        "sandbox_windows",
        string("phone_number_id", 20),
        string("wa_id", 20),
        timestamp("last_inbound_at"),
        primary_key("pk_sandbox_windows", "phone_number_id", "wa_id"),
    )


def _create_project_tables() -> None:
    op.create_table(
        "api_keys",
        string_id(),
        string_id("project_id"),
        string("name", 200),
        string("mode", 8),
        string("key_hash", 64),
        string("prefix", 32),
        timestamp("revoked_at", nullable=True),
        timestamp("last_used_at", nullable=True),
        timestamp("created_at"),
        foreign_key("fk_api_keys_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_api_keys", "id"),
        unique("uq_api_keys_key_hash", "key_hash"),
    )
    op.create_index("ix_api_keys_project_id", "api_keys", ["project_id"])
    op.create_table(
        "channels",
        string_id(),
        string_id("project_id"),
        string("kind", 8),
        string("name", 200),
        string("phone_number_id", 64),
        string("waba_id", 64),
        string("display_phone_number", 32),
        text("access_token_sealed"),
        string("status", 16),
        timestamp("created_at"),
        foreign_key("fk_channels_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_channels", "id"),
        unique("uq_channels_phone_number_id", "phone_number_id"),
    )
    op.create_index("ix_channels_project_created", "channels", ["project_id", "created_at"])
    op.create_index("ix_channels_project_id", "channels", ["project_id"])
    op.create_index("ix_channels_waba_id", "channels", ["waba_id"])
    op.create_table(
        "idempotency_records",
        serial_id(),
        string_id("project_id"),
        string("key", 255),
        string("fingerprint", 64),
        integer("response_status", nullable=True),
        binary("response_body", nullable=True),
        timestamp("expires_at"),
        timestamp("created_at"),
        foreign_key("fk_idempotency_records_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_idempotency_records", "id"),
        unique("uq_idempotency_records_project_id", "project_id", "key"),
    )
    op.create_index("ix_idempotency_records_expires_at", "idempotency_records", ["expires_at"])
    op.create_table(
        "media_refs",
        serial_id(),
        string_id("project_id"),
        string_id("channel_id"),
        string("media_id", 64),
        string("mime_type", 128),
        integer("file_size"),
        string("filename", 255),
        timestamp("created_at"),
        foreign_key("fk_media_refs_channel_id_channels", "channel_id", "channels", "CASCADE"),
        foreign_key("fk_media_refs_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_media_refs", "id"),
        unique("uq_media_refs_project_id", "project_id", "media_id"),
    )
    op.create_table(
        "message_logs",
        string_id(),
        string_id("project_id"),
        string_id("channel_id", nullable=True),
        string("message_id", 255, nullable=True),
        string("recipient", 64),
        string("sender", 64),
        string("direction", 8),
        string("type", 32),
        string("status", 16),
        integer("error_code", nullable=True),
        text("error_message", nullable=True),
        json("request", nullable=True),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_message_logs_channel_id_channels", "channel_id", "channels", "SET NULL"),
        foreign_key("fk_message_logs_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_message_logs", "id"),
    )
    op.create_index("ix_message_logs_project_created", "message_logs", ["project_id", "created_at"])
    op.create_index("ix_message_logs_project_status", "message_logs", ["project_id", "status"])
    op.create_index("ix_message_logs_wamid", "message_logs", ["message_id"])


def downgrade() -> None:
    """Child tables first; a table's indexes go with it."""
    for table in (
        "message_logs",
        "media_refs",
        "idempotency_records",
        "channels",
        "api_keys",
        "projects",
        "daily_usage",
        "account_tokens",
        "sandbox_windows",
        "sandbox_templates",
        "sandbox_numbers",
        "sandbox_messages",
        "sandbox_media",
        "pending_statuses",
        "accounts",
    ):
        op.drop_table(table)
