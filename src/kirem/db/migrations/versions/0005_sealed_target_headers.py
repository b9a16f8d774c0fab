"""sealed target headers

Custom webhook target headers often carry credentials: they move from a plaintext JSON column to
``headers_sealed``, sealed like channel tokens (AES-GCM, bound to the project and target ids).
Existing rows are sealed here with the configured ``KIREM_ENCRYPTION_KEY`` (or the embedded key).
"""

import json

import sqlalchemy as sa
from alembic import context, op

from kirem.config import Settings
from kirem.crypto import Sealer
from kirem.db.migrations.columns import text

revision = "0005"
down_revision = "0004"

_targets = sa.table(
    "webhook_targets",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("headers", sa.JSON),
    sa.column("headers_sealed", sa.Text),
)
HEADERS_AAD = "headers"
"""As in ``kirem.routing.targets``; repeated so this revision never changes with the app."""


def _sealer() -> Sealer:
    settings = context.config.attributes.get("settings") or Settings()
    return Sealer.from_settings(settings)


def upgrade() -> None:
    op.add_column("webhook_targets", text("headers_sealed", nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_targets.c.id, _targets.c.project_id, _targets.c.headers)).all()
    sealer: Sealer | None = None
    for target_id, project_id, headers in rows:
        if not headers:
            continue
        sealer = sealer or _sealer()
        sealed = sealer.seal(json.dumps(dict(headers)), project_id, target_id, HEADERS_AAD)
        connection.execute(_targets.update().where(_targets.c.id == target_id).values(headers_sealed=sealed))
    with op.batch_alter_table("webhook_targets") as batch_op:
        batch_op.drop_column("headers")


def downgrade() -> None:
    op.add_column("webhook_targets", sa.Column("headers", sa.JSON(), nullable=False, server_default="{}"))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_targets.c.id, _targets.c.project_id, _targets.c.headers_sealed).where(
            _targets.c.headers_sealed.is_not(None)
        )
    ).all()
    sealer = _sealer() if rows else None
    for target_id, project_id, sealed in rows:
        assert sealer is not None
        headers = json.loads(sealer.open(sealed, project_id, target_id, HEADERS_AAD))
        connection.execute(_targets.update().where(_targets.c.id == target_id).values(headers=headers))
    with op.batch_alter_table("webhook_targets") as batch_op:
        batch_op.drop_column("headers_sealed")
        batch_op.alter_column("headers", server_default=None)
