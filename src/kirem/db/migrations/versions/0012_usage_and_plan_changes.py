"""usage counters per project, month and metric; plan changes that disable and re-enable

Over-limit projects, channels, targets and rules after a downgrade keep a reason (and, where the
user can disable them too, a flag saying the plan did it); a downgrade keeps the longer retention
for what was stored before it.
"""

import sqlalchemy as sa
from alembic import op

from kirem.db.migrations.columns import (
    big_integer,
    boolean,
    foreign_key,
    integer,
    primary_key,
    string,
    string_id,
    text,
    timestamp,
)

revision = "0012_usage_and_plan_changes"
down_revision = "0011_onboarding"

PLAN_DISABLED = (("channels", True), ("webhook_targets", False), ("routing_rules", True))
"""Tables that gain ``disabled_by_plan``, and whether they gain ``disabled_reason`` too."""


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        string_id("project_id"),
        string("month", 7),
        string("metric", 64),
        big_integer("count"),
        foreign_key("fk_usage_counters_project_id_projects", "project_id", "projects", "CASCADE"),
        primary_key("pk_usage_counters", "project_id", "month", "metric"),
    )

    # Plain ADD/DROP COLUMN, never a batch table copy: on SQLite a copy drops the old table, and
    # with foreign keys on that deletes every child row whose foreign key cascades.
    op.add_column("accounts", integer("retention_days_before", nullable=True))
    op.add_column("accounts", timestamp("retention_changed_at", nullable=True))
    op.add_column("projects", text("disabled_reason", nullable=True))
    for table, reason in PLAN_DISABLED:
        if reason:
            op.add_column(table, text("disabled_reason", nullable=True))
        op.add_column(table, boolean("disabled_by_plan", server_default=sa.false()))


def downgrade() -> None:
    for table, reason in PLAN_DISABLED:
        op.drop_column(table, "disabled_by_plan")
        if reason:
            op.drop_column(table, "disabled_reason")
    op.drop_column("projects", "disabled_reason")
    op.drop_column("accounts", "retention_changed_at")
    op.drop_column("accounts", "retention_days_before")
    op.drop_table("usage_counters")
