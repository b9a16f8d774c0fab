"""delivery attempts keep the request headers they were sent with (custom values masked)

The dashboard's attempt detail shows them.
"""

from alembic import op

from kirem.db.migrations.columns import json

revision = "0014_attempt_headers"
down_revision = "0013_dashboard_users"


def upgrade() -> None:
    op.add_column("delivery_attempts", json("request_headers", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch_op:
        batch_op.drop_column("request_headers")
