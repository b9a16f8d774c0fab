"""sending to business-scoped user ids (BSUIDs)

The message log keeps the BSUID a message was sent to (``recipient_user_id``) when there is no
phone number; the sandbox keys its service windows and message ids by a phone number or a BSUID.
"""

from alembic import op
from sqlalchemy import String

from kirem.db.migrations.columns import string

revision = "0008_bsuid_sending"
down_revision = "0007"

_SANDBOX_CUSTOMER_KEYS = ("sandbox_windows", "sandbox_messages")


def upgrade() -> None:
    op.add_column("message_logs", string("recipient_user_id", 160, nullable=True))
    _resize_sandbox_customer_keys(20, 160)


def downgrade() -> None:
    _resize_sandbox_customer_keys(160, 20)
    with op.batch_alter_table("message_logs") as batch_op:
        batch_op.drop_column("recipient_user_id")


def _resize_sandbox_customer_keys(length: int, new_length: int) -> None:
    for table in _SANDBOX_CUSTOMER_KEYS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "wa_id", existing_type=String(length=length), type_=String(length=new_length)
            )
