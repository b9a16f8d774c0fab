"""DNS rebinding: in production the sender connects only to addresses that pass the public check."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from kirem.delivery.attempts import attempt
from kirem.delivery.pinned_resolver import PublicOnlyResolver, RefusedAddress
from kirem.delivery.sender import AiohttpSender
from kirem.routing import urls
from tests.egress_servers import forward_proxy, recorder

PUBLIC = "93.184.216.34"
HEADERS = {"Content-Type": "application/json"}


class RebindingDNS(AbstractResolver):
    """Answers ``public`` to the check before the attempt and ``connect`` to the HTTP client."""

    def __init__(self, connect: list[str], public: str = PUBLIC) -> None:
        self.connect = connect
        self.public = public
        self.checked: list[str] = []
        self.resolved: list[str] = []

    async def check(self, host: str, port: int) -> list[str]:
        self.checked.append(host)
        return [self.public]

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.resolved.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.connect
        ]

    async def close(self) -> None:
        return None


def rebound(url: str) -> str:
    """The loopback consumer's URL under a name (the fake DNS decides where it leads)."""
    return url.replace("127.0.0.1", "hooks.example.com")


async def test_a_name_rebound_to_loopback_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    dns = RebindingDNS(connect=["127.0.0.1"])
    monkeypatch.setattr(urls, "system_resolve", dns.check)
    sender = AiohttpSender(public_only=True, resolver=dns)
    try:
        with recorder() as consumer:
            result = await attempt(
                sender, rebound(consumer.url) + "/hook", b"{}", HEADERS, 5, production=True
            )
            assert consumer.seen() == []
    finally:
        await sender.aclose()
    assert dns.checked == ["hooks.example.com"]
    assert dns.resolved == ["hooks.example.com"]
    assert not result.is_success
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("refused: points to 127.0.0.1, which is not a public address")


async def test_a_rebound_name_is_delivered_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    dns = RebindingDNS(connect=["127.0.0.1"])
    monkeypatch.setattr(urls, "system_resolve", dns.check)
    sender = AiohttpSender(public_only=False, resolver=dns)
    try:
        with recorder() as consumer:
            result = await attempt(
                sender, rebound(consumer.url) + "/hook", b"{}", HEADERS, 5, production=False
            )
            assert consumer.seen() == ["127.0.0.1"]
    finally:
        await sender.aclose()
    assert result.is_success, result
    assert dns.checked == []


async def test_only_the_public_addresses_of_a_name_are_kept() -> None:
    dns = RebindingDNS(connect=["10.0.0.5", PUBLIC, "169.254.169.254"])
    pinned = PublicOnlyResolver(dns)
    assert [found["host"] for found in await pinned.resolve("hooks.example.com", 443)] == [PUBLIC]


@pytest.mark.parametrize("connect", [["169.254.169.254"], ["10.0.0.5", "::1"], []])
async def test_a_name_without_public_addresses_is_refused(connect: list[str]) -> None:
    pinned = PublicOnlyResolver(RebindingDNS(connect=connect))
    with pytest.raises(RefusedAddress, match="not a public address"):
        await pinned.resolve("hooks.example.com", 443)


async def test_a_proxied_delivery_connects_to_the_operators_proxy() -> None:
    """The proxy's name leads to loopback, as an operator's internal proxy does: still used."""
    dns = RebindingDNS(connect=["127.0.0.1"])
    with recorder() as consumer, forward_proxy() as proxy:
        sender = AiohttpSender(
            proxy=proxy.url.replace("127.0.0.1", "proxy.internal"), public_only=True, resolver=dns
        )
        try:
            result = await sender.send(consumer.url + "/hook", b"{}", HEADERS, 5)
        finally:
            await sender.aclose()
        assert result.is_success, result
        assert dns.resolved == ["proxy.internal"]
        assert [(method, target) for method, target, _ in proxy.seen()] == [("POST", consumer.url + "/hook")]
