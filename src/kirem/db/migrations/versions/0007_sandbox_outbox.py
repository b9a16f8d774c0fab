"""sandbox webhook outbox"""

from alembic import op

from kirem.db.migrations.columns import integer, primary_key, serial_id, string, text, timestamp

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "sandbox_outbox",
        serial_id(),
        string("lane", 160),
        text("body"),
        timestamp("due_at"),
        integer("attempts"),
        string("last_error", 500, nullable=True),
        string("leased_by", 32, nullable=True),
        timestamp("lease_expires_at", nullable=True),
        timestamp("created_at"),
        primary_key("pk_sandbox_outbox", "id"),
    )
    op.create_index("ix_sandbox_outbox_due_at", "sandbox_outbox", ["due_at"])
    op.create_index("ix_sandbox_outbox_lane_id", "sandbox_outbox", ["lane", "id"])


def downgrade() -> None:
    op.drop_table("sandbox_outbox")
