"""customer identity: phone number and/or business-scoped user id

Conversations and synced contacts keep the customer's BSUID, parent BSUID and username next to
the phone number, which becomes optional (a customer with a username may have none). Existing
rows keep their number and stay valid. The message log's sender widens to hold a customer's BSUID.

Revision ID: 0009_customer_identity
Revises: 0008_bsuid_sending
Create Date: 2026-11-29 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_customer_identity"
down_revision = "0008_bsuid_sending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("customer_wa_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("customer_user_id", sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column("customer_parent_user_id", sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column("customer_username", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(
            "uq_conversations_channel_user_id", ["channel_id", "customer_user_id"]
        )
    with op.batch_alter_table("channel_contacts", schema=None) as batch_op:
        batch_op.alter_column("wa_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("user_id", sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column("username", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint("uq_channel_contacts_channel_user_id", ["channel_id", "user_id"])
    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.alter_column(
            "sender", existing_type=sa.String(length=64), type_=sa.String(length=140), existing_nullable=False
        )


def downgrade() -> None:
    # Rows known by BSUID only have no phone number to go back to.
    op.execute("DELETE FROM conversations WHERE customer_wa_id IS NULL")
    op.execute("DELETE FROM channel_contacts WHERE wa_id IS NULL")
    with op.batch_alter_table("message_logs", schema=None) as batch_op:
        batch_op.alter_column(
            "sender", existing_type=sa.String(length=140), type_=sa.String(length=64), existing_nullable=False
        )
    with op.batch_alter_table("channel_contacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_channel_contacts_channel_user_id", type_="unique")
        batch_op.drop_column("username")
        batch_op.drop_column("user_id")
        batch_op.alter_column("wa_id", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_conversations_channel_user_id", type_="unique")
        batch_op.drop_column("customer_username")
        batch_op.drop_column("customer_parent_user_id")
        batch_op.drop_column("customer_user_id")
        batch_op.alter_column("customer_wa_id", existing_type=sa.String(length=32), nullable=False)
