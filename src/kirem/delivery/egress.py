"""The senders of dedicated outbound addresses: one per distinct egress (``kirem.tenancy.egress``)."""

from __future__ import annotations

from kirem.delivery.sender import AiohttpSender, WebhookSender
from kirem.tenancy.egress import Egress


class EgressSenders:
    """One sender per distinct egress, made on first use and closed with the worker.

    In production a sender connects only to public addresses, unless it goes through the proxy,
    which the operator configured (``AiohttpSender``'s ``public_only``)."""

    def __init__(self) -> None:
        self._senders: dict[tuple[Egress, bool], WebhookSender] = {}

    def sender(self, egress: Egress, *, production: bool) -> WebhookSender:
        found = self._senders.get((egress, production))
        if found is None:
            found = self._senders[(egress, production)] = AiohttpSender(
                local_address=egress.bind_address, proxy=egress.proxy_url, public_only=production
            )
        return found

    async def aclose(self) -> None:
        senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await sender.aclose()
