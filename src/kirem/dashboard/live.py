"""Live pages: a Server-Sent Events stream that says ``changed`` whenever a fingerprint moves.

The stream polls the fingerprint once a second with a short-lived session of its own (the request's
session is closed first, so an open page holds no database connection), and ends after five minutes;
the browser's ``EventSource`` reconnects by itself. The page's script then fetches the page again
and swaps the regions that changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.dashboard.auth import ProjectAccess

POLL_SECONDS = 1.0
LIFETIME_SECONDS = 300.0

Fingerprint = Callable[[AsyncSession], Awaitable[tuple[Any, ...]]]


async def change_stream(
    request: Request, access: ProjectAccess, fingerprint: Fingerprint
) -> StreamingResponse:
    database = access.ctx.db
    await access.session.close()

    async def events() -> AsyncIterator[bytes]:
        seen: tuple[Any, ...] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIFETIME_SECONDS
        yield b"retry: 2000\n\n"
        while loop.time() < deadline and not await request.is_disconnected():
            async with database.session() as session:
                current = await fingerprint(session)
            if seen is not None and current != seen:
                yield b"event: changed\ndata: {}\n\n"
            seen = current
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
