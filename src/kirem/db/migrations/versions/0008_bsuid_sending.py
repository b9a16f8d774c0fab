"""sending to business-scoped user ids (BSUIDs)

The message log keeps the BSUID a message was sent to (``recipient_user_id``) when there is no
phone number; the sandbox keys its service windows and message ids by a phone number or a BSUID.

Revision ID: 0008_bsuid_sending
Revises: 0007
Create Date: 2026-11-29 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_bsuid_sending"
down_revision = "0007"
branch_labels = None
depends_on = None

_SANDBOX_CUSTOMER_KEYS = ("sandbox_windows", "sandbox_messages")


def upgrade() -> None:
    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_user_id", sa.String(length=160), nullable=True))
    for table in _SANDBOX_CUSTOMER_KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("wa_id", existing_type=sa.String(length=20), type_=sa.String(length=160))


def downgrade() -> None:
    for table in _SANDBOX_CUSTOMER_KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("wa_id", existing_type=sa.String(length=160), type_=sa.String(length=20))
    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.drop_column("recipient_user_id")
