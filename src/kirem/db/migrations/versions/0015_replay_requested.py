"""deliveries remember a replay asked for while an attempt held their lease

The attempt's result is logged when it ends, then the replay starts a fresh series of attempts.
"""

import sqlalchemy as sa
from alembic import op

from kirem.db.migrations.columns import boolean

revision = "0015_replay_requested"
down_revision = "0014_attempt_headers"


def upgrade() -> None:
    op.add_column("deliveries", boolean("replay_requested", server_default=sa.false()))


def downgrade() -> None:
    # A plain DROP COLUMN: a batch table copy would cascade-delete the attempt log on SQLite.
    op.drop_column("deliveries", "replay_requested")
