"""What every request and background job shares: settings, database, sealer, Graph clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from kirem.api.responses import ApiError
from kirem.config import Settings
from kirem.crypto import Sealer
from kirem.db.engine import Database
from kirem.inbound.ingest import RawEventStore
from kirem.meta.client import GraphClient
from kirem.meta.transport import AiohttpTransport
from kirem.metrics import Metrics
from kirem.ratelimit import RateLimiter
from kirem.signals import Signals
from kirem.tenancy.models import Channel

if TYPE_CHECKING:
    from kirem.messaging.ledger import SendLedger


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
    metrics: Metrics = field(default_factory=Metrics)
    raw_events: RawEventStore = field(init=False)
    _sends: SendLedger | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.raw_events = RawEventStore(self.db, self.signals)

    @property
    def sends(self) -> SendLedger:
        """The process's group-committed send writes (made on first use: messaging imports this module)."""
        if self._sends is None:
            from kirem.messaging.ledger import SendLedger

            self._sends = SendLedger(self.db)
        return self._sends

    def graph_for(self, channel: Channel) -> GraphClient:
        if channel.kind == "sandbox":
            if self.sandbox_graph is None:
                raise ApiError(
                    409, "This is a sandbox channel and the sandbox is disabled (KIREM_SANDBOX=false)"
                )
            return self.sandbox_graph
        return self.live_graph

    async def aclose(self) -> None:
        await self.raw_events.aclose()
        if self._sends is not None:
            await self._sends.aclose()
        await self.live_graph.aclose()
        if self.sandbox_graph is not None:
            await self.sandbox_graph.aclose()
        await self.db.dispose()


def live_graph_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None, metrics: Metrics | None = None
) -> GraphClient:
    """The client of live channels: through ``transport`` when given (tests), else pooled aiohttp."""
    http = httpx.AsyncClient(
        base_url=settings.meta_graph_url,
        timeout=settings.meta_timeout_seconds,
        transport=transport or AiohttpTransport(),
        headers={"User-Agent": "Kirem"},
    )
    return GraphClient(http, settings.meta_graph_version, metrics)
