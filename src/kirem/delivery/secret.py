"""The project's webhook signing secret: rotation with a 24-hour overlap.

After a rotation every delivery is signed with both the new and the previous secret for
:data:`ROTATION_OVERLAP`, so consumers can switch to the new secret without losing a delivery.
Rotating again within that window replaces the previous secret (only one old secret is kept).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.crypto import Sealer
from kirem.tenancy.models import Project
from kirem.tenancy.tokens import generate_secret

ROTATION_OVERLAP = timedelta(hours=24)
CURRENT_AAD = "webhook_secret"
PREVIOUS_AAD = "previous_webhook_secret"


async def rotate_webhook_secret(
    session: AsyncSession, sealer: Sealer, project: Project, now: datetime
) -> str:
    """Make a new secret the project's signing secret and return it (the caller commits).

    The current secret becomes the previous one until ``now + 24 h``. ``project`` may be detached
    (an API ``Tenant``'s): the row is read again, locked, and the object passed in is updated too.
    """
    stmt = select(Project).where(Project.id == project.id).with_for_update()
    row = (await session.execute(stmt)).scalar_one()
    current = sealer.open(row.webhook_secret_sealed, row.id, CURRENT_AAD)
    secret = generate_secret()
    row.previous_webhook_secret_sealed = sealer.seal(current, row.id, PREVIOUS_AAD)
    row.previous_secret_expires_at = now + ROTATION_OVERLAP
    row.webhook_secret_sealed = sealer.seal(secret, row.id, CURRENT_AAD)
    await session.flush()
    if row is not project:
        project.webhook_secret_sealed = row.webhook_secret_sealed
        project.previous_webhook_secret_sealed = row.previous_webhook_secret_sealed
        project.previous_secret_expires_at = row.previous_secret_expires_at
    return secret


def signing_secrets(sealer: Sealer, project: Project, now: datetime) -> list[str]:
    """The secrets deliveries are signed with now, newest first: the previous one only until it expires."""
    secrets = [sealer.open(project.webhook_secret_sealed, project.id, CURRENT_AAD)]
    expires = project.previous_secret_expires_at
    if project.previous_webhook_secret_sealed and expires is not None and now < expires:
        secrets.append(sealer.open(project.previous_webhook_secret_sealed, project.id, PREVIOUS_AAD))
    return secrets
