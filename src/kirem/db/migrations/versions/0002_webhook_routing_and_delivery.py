"""webhook routing and delivery"""

from alembic import op

from kirem.db.migrations.columns import (
    binary,
    boolean,
    floating,
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

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "raw_events",
        serial_id(),
        timestamp("received_at"),
        string("source", 16),
        binary("body"),
        string("status", 16),
        integer("attempts"),
        timestamp("lease_expires_at", nullable=True),
        timestamp("processed_at", nullable=True),
        text("error", nullable=True),
        primary_key("pk_raw_events", "id"),
    )
    op.create_index("ix_raw_events_status_received", "raw_events", ["status", "received_at"])
    op.create_table(
        "routing_rules",
        string_id(),
        string_id("project_id"),
        string("name", 200),
        boolean("enabled"),
        json("conditions"),
        json("target_ids"),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_routing_rules_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_routing_rules", "id"),
    )
    op.create_index("ix_routing_rules_project_id", "routing_rules", ["project_id"])
    op.create_table(
        "webhook_targets",
        string_id(),
        string_id("project_id"),
        string("url", 2048),
        string("description", 500),
        string("payload_format", 8),
        json("events"),
        boolean("enabled"),
        json("headers"),
        floating("timeout_seconds"),
        integer("max_attempts"),
        json("retry_schedule", nullable=True),
        text("disabled_reason", nullable=True),
        timestamp("disabled_at", nullable=True),
        timestamp("failing_since", nullable=True),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_webhook_targets_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_webhook_targets", "id"),
    )
    op.create_index("ix_webhook_targets_project_id", "webhook_targets", ["project_id"])
    op.create_table(
        "events",
        string_id(),
        string_id("project_id"),
        string_id("channel_id", nullable=True),
        integer("raw_event_id", nullable=True),
        string("type", 40),
        string("dedup_key", 300),
        json("data"),
        json("facts"),
        binary("kirem_body"),
        binary("meta_body"),
        timestamp("created_at"),
        foreign_key("fk_events_channel_id_channels", "channel_id", "channels", "SET NULL"),
        foreign_key("fk_events_project_id_projects", "project_id", "projects", "CASCADE"),
        foreign_key("fk_events_raw_event_id_raw_events", "raw_event_id", "raw_events", "SET NULL"),
        primary_key("pk_events", "id"),
        unique("uq_events_project_id", "project_id", "dedup_key"),
    )
    op.create_index("ix_events_project_created", "events", ["project_id", "created_at"])
    _create_delivery_tables()
    op.add_column("projects", text("previous_webhook_secret_sealed", nullable=True))
    op.add_column("projects", timestamp("previous_secret_expires_at", nullable=True))


def _create_delivery_tables() -> None:
    op.create_table(
        "deliveries",
        string_id(),
        string_id("project_id"),
        string_id("event_id"),
        string_id("target_id"),
        string("event_type", 40),
        string("status", 16),
        integer("attempts"),
        timestamp("next_attempt_at"),
        timestamp("lease_expires_at", nullable=True),
        string("leased_by", 64, nullable=True),
        integer("last_status_code", nullable=True),
        text("last_error", nullable=True),
        timestamp("completed_at", nullable=True),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_deliveries_event_id_events", "event_id", "events", "CASCADE"),
        foreign_key("fk_deliveries_project_id_projects", "project_id", "projects", "CASCADE"),
        foreign_key("fk_deliveries_target_id_webhook_targets", "target_id", "webhook_targets", "CASCADE"),
        primary_key("pk_deliveries", "id"),
        unique("uq_deliveries_event_id", "event_id", "target_id"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_project_created", "deliveries", ["project_id", "created_at"])
    op.create_index("ix_deliveries_target_status", "deliveries", ["target_id", "status"])
    op.create_table(
        "delivery_attempts",
        string_id(),
        string_id("project_id"),
        string_id("delivery_id"),
        string_id("event_id"),
        string_id("target_id"),
        string("event_type", 40),
        string("url", 2048),
        integer("attempt"),
        integer("status_code", nullable=True),
        integer("duration_ms"),
        boolean("is_success"),
        text("error", nullable=True),
        text("response_body"),
        timestamp("created_at"),
        foreign_key("fk_delivery_attempts_delivery_id_deliveries", "delivery_id", "deliveries", "CASCADE"),
        foreign_key("fk_delivery_attempts_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_delivery_attempts", "id"),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_index("ix_delivery_attempts_project_created", "delivery_attempts", ["project_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_webhook_secret_sealed")
    for table in (
        "delivery_attempts",
        "deliveries",
        "events",
        "webhook_targets",
        "routing_rules",
        "raw_events",
    ):
        op.drop_table(table)
