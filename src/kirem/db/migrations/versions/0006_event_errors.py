"""events keep the error of an item that could not be applied"""

from alembic import op

from kirem.db.migrations.columns import text

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("events", text("error", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("error")
