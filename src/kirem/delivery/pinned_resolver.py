"""DNS for production deliveries: only public addresses reach the connector.

The delivery worker checks a target's host before each attempt (``urls.check_target_url``), but
the HTTP client resolves the name again when it connects, and a name can be re-pointed between the
two lookups (DNS rebinding) — to ``169.254.169.254`` or ``10.0.0.5``. ``PublicOnlyResolver`` sits in
the connector itself: it drops every address that ``urls.is_public_address`` refuses and refuses the
connection when none is left, so the address connected to is one that was checked.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from kirem.routing.urls import is_public_address, refusal


class RefusedAddress(OSError):
    """Every address of the host is internal: the connection is refused before it is made."""


class PublicOnlyResolver(AbstractResolver):
    """Wraps a resolver (aiohttp's default unless given) and keeps only public addresses.

    IP literals never reach a resolver (aiohttp connects to them as they are): they cannot be
    re-pointed, so the check before the attempt covers them.
    """

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        """Made inside the event loop: aiohttp's default resolver binds to the running loop."""
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [item for item in found if is_public_address(item["host"])]
        if not public:
            shown = found[0]["host"] if found else host
            raise RefusedAddress(refusal(shown))
        return public

    async def close(self) -> None:
        await self._inner.close()
