"""project ip allowlist"""

from alembic import op

from kirem.db.migrations.columns import json

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("projects", json("ip_allowlist", server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("ip_allowlist")
