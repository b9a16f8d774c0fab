"""Getting a sandbox number, the way a person gets ids and a token from Meta's developer console.

Kirem's channel service calls :func:`provision_number` in-process; the access token it returns is
shown once and only its SHA-256 is kept. Each number has its own WABA, which starts with Meta's
pre-approved ``hello_world`` template (en_US).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.sandbox.ids import hash_token, new_access_token, numeric_id
from kirem.sandbox.models import SandboxMedia, SandboxMessage, SandboxNumber, SandboxTemplate, SandboxWindow
from kirem.sandbox.templates import hello_world_template

DEFAULT_PROFILE = {"about": "Hey there! I am using WhatsApp.", "vertical": "OTHER"}
DISPLAY_PREFIX = "1555"
"""Sandbox numbers look like Meta's US test numbers: ``1555`` and seven digits."""


@dataclass(frozen=True)
class ProvisionedNumber:
    phone_number_id: str
    waba_id: str
    display_phone_number: str
    access_token: str = field(repr=False)
    """Returned in clear once; the sandbox keeps only its hash."""
    verified_name: str = "Kirem Sandbox"


async def _free_display_number(session: AsyncSession) -> str:
    for _ in range(20):
        candidate = DISPLAY_PREFIX + numeric_id(7)
        taken = await session.scalar(
            select(SandboxNumber.phone_number_id).where(SandboxNumber.display_phone_number == candidate)
        )
        if taken is None:
            return candidate
    raise RuntimeError("no free sandbox display number found")


async def provision_number(
    session: AsyncSession, *, verified_name: str = "Kirem Sandbox", now: datetime | None = None
) -> ProvisionedNumber:
    """Create a number, its WABA and its ``hello_world`` template; the caller commits the session."""
    now = now or utcnow()
    token = new_access_token()
    number = SandboxNumber(
        phone_number_id=numeric_id(15),
        waba_id=numeric_id(15),
        display_phone_number=await _free_display_number(session),
        verified_name=verified_name,
        access_token_hash=hash_token(token),
        business_profile=dict(DEFAULT_PROFILE),
        created_at=now,
    )
    session.add(number)
    session.add(hello_world_template(number.waba_id, now))
    await session.flush()
    return ProvisionedNumber(
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        display_phone_number=number.display_phone_number,
        access_token=token,
        verified_name=verified_name,
    )


async def revoke_number(session: AsyncSession, phone_number_id: str) -> bool:
    """Delete a number with its token, WABA templates, media, windows and message ids.

    Returns False when there was no such number. The caller commits the session.
    """
    number = await session.get(SandboxNumber, phone_number_id)
    if number is None:
        return False
    await session.execute(delete(SandboxMessage).where(SandboxMessage.phone_number_id == phone_number_id))
    await session.execute(delete(SandboxWindow).where(SandboxWindow.phone_number_id == phone_number_id))
    await session.execute(delete(SandboxMedia).where(SandboxMedia.phone_number_id == phone_number_id))
    others = await session.scalar(
        select(SandboxNumber.phone_number_id).where(
            SandboxNumber.waba_id == number.waba_id, SandboxNumber.phone_number_id != phone_number_id
        )
    )
    if others is None:
        await session.execute(delete(SandboxTemplate).where(SandboxTemplate.waba_id == number.waba_id))
    await session.delete(number)
    await session.flush()
    return True
