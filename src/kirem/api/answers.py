"""Answers that end a route the same way wherever they are given."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ok


async def deleted(session: AsyncSession, row: object, view: Any, message: str) -> Response:
    """Delete ``row`` for good and answer ``view``: what it was, taken before it went."""
    await session.delete(row)
    await session.commit()
    return ok(view, message)
