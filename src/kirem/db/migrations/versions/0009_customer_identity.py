"""customer identity: phone number and/or business-scoped user id

Conversations and synced contacts keep the customer's BSUID, parent BSUID and username next to
the phone number, which becomes optional (a customer with a username may have none). Existing
rows keep their number and stay valid. The message log's sender widens to hold a customer's BSUID.
"""

from alembic import op
from sqlalchemy import String

from kirem.db.migrations.columns import string

revision = "0009_customer_identity"
down_revision = "0008_bsuid_sending"


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.alter_column("customer_wa_id", existing_type=String(length=32), nullable=True)
        batch_op.add_column(string("customer_user_id", 140, nullable=True))
        batch_op.add_column(string("customer_parent_user_id", 140, nullable=True))
        batch_op.add_column(string("customer_username", 100, nullable=True))
        batch_op.create_unique_constraint(
            "uq_conversations_channel_user_id", ["channel_id", "customer_user_id"]
        )
    with op.batch_alter_table("channel_contacts") as batch_op:
        batch_op.alter_column("wa_id", existing_type=String(length=32), nullable=True)
        batch_op.add_column(string("user_id", 140, nullable=True))
        batch_op.add_column(string("username", 100, nullable=True))
        batch_op.create_unique_constraint("uq_channel_contacts_channel_user_id", ["channel_id", "user_id"])
    _resize_sender(64, 140)


def downgrade() -> None:
    # Rows known by BSUID only have no phone number to go back to.
    op.execute("DELETE FROM conversations WHERE customer_wa_id IS NULL")
    op.execute("DELETE FROM channel_contacts WHERE wa_id IS NULL")
    _resize_sender(140, 64)
    with op.batch_alter_table("channel_contacts") as batch_op:
        batch_op.drop_constraint("uq_channel_contacts_channel_user_id", type_="unique")
        batch_op.drop_column("username")
        batch_op.drop_column("user_id")
        batch_op.alter_column("wa_id", existing_type=String(length=32), nullable=False)
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.drop_constraint("uq_conversations_channel_user_id", type_="unique")
        batch_op.drop_column("customer_username")
        batch_op.drop_column("customer_parent_user_id")
        batch_op.drop_column("customer_user_id")
        batch_op.alter_column("customer_wa_id", existing_type=String(length=32), nullable=False)


def _resize_sender(length: int, new_length: int) -> None:
    """The message log's ``sender``, a required ``VARCHAR``."""
    with op.batch_alter_table("message_logs") as batch_op:
        batch_op.alter_column(
            "sender",
            existing_type=String(length=length),
            type_=String(length=new_length),
            existing_nullable=False,
        )
