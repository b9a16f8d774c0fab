"""channels remember when the plan disabled them

An upgrade that re-enables a channel processes the webhooks kept for its number since then.
"""

from alembic import op

from kirem.db.migrations.columns import timestamp

revision = "0016_channel_plan_disabled_at"
down_revision = "0015_replay_requested"


def upgrade() -> None:
    op.add_column("channels", timestamp("plan_disabled_at", nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN: a batch table copy would cascade-delete the channel's rows on SQLite.
    op.drop_column("channels", "plan_disabled_at")
