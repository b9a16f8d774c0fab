"""What every request and background job shares: settings, database, sealer, Graph clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import httpx

from kirem.config import Settings
from kirem.crypto import Sealer
from kirem.db.engine import Database
from kirem.instruments import Instruments
from kirem.kit.errors import Conflict
from kirem.meta.client import GraphClient
from kirem.meta.transport import AiohttpTransport
from kirem.ratelimit import RateLimiter
from kirem.signals import Signals


class Closable(Protocol):
    async def aclose(self) -> None: ...


@dataclass
class AppContext:
    settings: Settings
    db: Database
    sealer: Sealer
    live_graph: GraphClient
    sandbox_graph: GraphClient | None
    limiter: RateLimiter
    sandbox_app_secret: str | None = None
    signals: Signals = field(default_factory=Signals)
    metrics: Instruments = field(default_factory=Instruments)
    parts: dict[str, Closable] = field(default_factory=dict)
    """Process-wide parts a layer above makes on first use (the send path's group committer, see
    ``kirem.messaging.ledger.send_ledger``); closed with the context."""

    def graph_for(self, channel_kind: str) -> GraphClient:
        """The Graph client of a channel of this kind (``sandbox`` or ``live``)."""
        if channel_kind == "sandbox":
            if self.sandbox_graph is None:
                raise Conflict("This is a sandbox channel and the sandbox is disabled (KIREM_SANDBOX=false)")
            return self.sandbox_graph
        return self.live_graph

    async def aclose(self) -> None:
        for part in self.parts.values():
            await part.aclose()
        await self.live_graph.aclose()
        if self.sandbox_graph is not None:
            await self.sandbox_graph.aclose()
        await self.db.dispose()


def live_graph_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None, metrics: Instruments | None = None
) -> GraphClient:
    """The client of live channels: through ``transport`` when given (tests), else pooled aiohttp."""
    pooled = AiohttpTransport() if transport is None else None
    http = httpx.AsyncClient(
        base_url=settings.meta_graph_url,
        timeout=settings.meta_timeout_seconds,
        transport=transport or pooled,
        headers={"User-Agent": "Kirem"},
    )
    return GraphClient(http, settings.meta_graph_version, metrics, direct=pooled)
