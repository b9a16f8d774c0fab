"""enterprise: dedicated MCP endpoints, SLA policies, worker heartbeats

API keys get a scope (``api``, or ``mcp`` for a project's dedicated MCP endpoint); existing keys
are ``api``. Deliveries get an index for the SLA window (finished deliveries of a project by time).
"""

from alembic import op

from kirem.db.migrations.columns import (
    floating,
    foreign_key,
    integer,
    primary_key,
    string,
    string_id,
    timestamp,
    unique,
)

revision = "0010_enterprise"
down_revision = "0009_customer_identity"


def upgrade() -> None:
    op.add_column("api_keys", string("scope", 8, server_default="api"))
    op.create_index("ix_deliveries_project_completed", "deliveries", ["project_id", "completed_at"])
    op.create_table(
        "mcp_endpoints",
        string_id("project_id"),
        string("slug", 63),
        floating("rate_limit_per_second"),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_mcp_endpoints_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_mcp_endpoints", "project_id"),
        unique("uq_mcp_endpoints_slug", "slug"),
    )
    op.create_table(
        "sla_policies",
        string_id("project_id"),
        integer("window_seconds"),
        floating("min_success_rate", nullable=True),
        integer("max_p95_latency_ms", nullable=True),
        integer("min_deliveries"),
        string("state", 16),
        timestamp("state_changed_at", nullable=True),
        timestamp("next_evaluation_at"),
        timestamp("evaluated_at", nullable=True),
        integer("deliveries", nullable=True),
        floating("success_rate", nullable=True),
        integer("p95_latency_ms", nullable=True),
        timestamp("updated_at"),
        timestamp("created_at"),
        foreign_key("fk_sla_policies_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_sla_policies", "project_id"),
    )
    op.create_index("ix_sla_policies_next_evaluation_at", "sla_policies", ["next_evaluation_at"])
    op.create_table(
        "worker_heartbeats",
        string_id(),
        string("hostname", 255),
        integer("pid"),
        timestamp("started_at"),
        timestamp("seen_at"),
        primary_key("pk_worker_heartbeats", "id"),
    )
    op.create_index("ix_worker_heartbeats_seen_at", "worker_heartbeats", ["seen_at"])


def downgrade() -> None:
    for table in ("worker_heartbeats", "sla_policies", "mcp_endpoints"):
        op.drop_table(table)
    op.drop_index("ix_deliveries_project_completed", table_name="deliveries")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("scope")
