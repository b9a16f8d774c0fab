"""enterprise: dedicated MCP endpoints, SLA policies, worker heartbeats

API keys get a scope (``api``, or ``mcp`` for a project's dedicated MCP endpoint); existing keys
are ``api``. Deliveries get an index for the SLA window (finished deliveries of a project by time).

Revision ID: 0010_enterprise
Revises: 0009_customer_identity
Create Date: 2026-11-29 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kirem.db.base import UTCDateTime

revision = "0010_enterprise"
down_revision = "0009_customer_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=8), nullable=False, server_default="api"))
    op.create_index("ix_deliveries_project_completed", "deliveries", ["project_id", "completed_at"])
    op.create_table(
        "mcp_endpoints",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("rate_limit_per_second", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_mcp_endpoints_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_mcp_endpoints")),
        sa.UniqueConstraint("slug", name=op.f("uq_mcp_endpoints_slug")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("min_success_rate", sa.Float(), nullable=True),
        sa.Column("max_p95_latency_ms", sa.Integer(), nullable=True),
        sa.Column("min_deliveries", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_changed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_evaluation_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=True),
        sa.Column("success_rate", sa.Float(), nullable=True),
        sa.Column("p95_latency_ms", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_sla_policies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_sla_policies")),
    )
    op.create_index("ix_sla_policies_next_evaluation_at", "sla_policies", ["next_evaluation_at"])
    op.create_table(
        "worker_heartbeats",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index("ix_worker_heartbeats_seen_at", "worker_heartbeats", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_worker_heartbeats_seen_at", table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
    op.drop_index("ix_sla_policies_next_evaluation_at", table_name="sla_policies")
    op.drop_table("sla_policies")
    op.drop_table("mcp_endpoints")
    op.drop_index("ix_deliveries_project_completed", table_name="deliveries")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scope")
