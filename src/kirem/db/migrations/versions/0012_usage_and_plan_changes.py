"""usage counters per project, month and metric; plan changes that disable and re-enable

Over-limit projects, channels, targets and rules after a downgrade keep a reason (and, where the
user can disable them too, a flag saying the plan did it); a downgrade keeps the longer retention
for what was stored before it.

Revision ID: 0012_usage_and_plan_changes
Revises: 0011_onboarding
Create Date: 2026-11-29 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kirem.db.base

revision = "0012_usage_and_plan_changes"
down_revision = "0011_onboarding"
branch_labels = None
depends_on = None

PLAN_DISABLED = (("channels", True), ("webhook_targets", False), ("routing_rules", True))
"""Tables that gain ``disabled_by_plan``, and whether they gain ``disabled_reason`` too."""


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_usage_counters_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "month", "metric", name=op.f("pk_usage_counters")),
    )

    # Plain ADD/DROP COLUMN, never a batch table copy: on SQLite a copy drops the old table, and
    # with foreign keys on that deletes every child row whose foreign key cascades.
    op.add_column("accounts", sa.Column("retention_days_before", sa.Integer(), nullable=True))
    op.add_column(
        "accounts", sa.Column("retention_changed_at", kirem.db.base.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("projects", sa.Column("disabled_reason", sa.Text(), nullable=True))
    for table, reason in PLAN_DISABLED:
        if reason:
            op.add_column(table, sa.Column("disabled_reason", sa.Text(), nullable=True))
        op.add_column(
            table, sa.Column("disabled_by_plan", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    for table, reason in PLAN_DISABLED:
        op.drop_column(table, "disabled_by_plan")
        if reason:
            op.drop_column(table, "disabled_reason")
    op.drop_column("projects", "disabled_reason")
    op.drop_column("accounts", "retention_changed_at")
    op.drop_column("accounts", "retention_days_before")
    op.drop_table("usage_counters")
