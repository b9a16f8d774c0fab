"""Webhook target URLs: form always, public addresses only in production (SSRF)."""

from __future__ import annotations

import pytest

from kirem.routing.urls import check_target_url, is_public_address, public_addresses


class FakeDNS:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise OSError("Name or service not known")
        return self.table[host]


DNS = FakeDNS(
    {
        "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "internal.example.com": ["10.0.0.5"],
        "mixed.example.com": ["93.184.216.34", "192.168.1.10"],
        "localhost": ["127.0.0.1", "::1"],
        "metadata.example.com": ["169.254.169.254"],
        "empty.example.com": [],
    }
)


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fe80::1%eth0",
        "fd00::1",
        "fc00::1",
        "0.0.0.0",
        "::",
        "100.64.0.1",
        "100.127.255.254",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
        "::127.0.0.1",
        "not-an-ip",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/kirem",
        "http://hooks.example.com:8080/path?x=1",
        "https://93.184.216.34/hook",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
    ],
)
async def test_public_urls_are_accepted_in_production(url: str) -> None:
    assert await check_target_url(url, production=True, resolve=DNS) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1%25eth0]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0:8080/",
        "http://internal.example.com/hook",
        "http://mixed.example.com/hook",
        "http://localhost:8000/hook",
        "http://metadata.example.com/",
    ],
)
async def test_internal_targets_are_refused_in_production_allowed_in_development(url: str) -> None:
    error = await check_target_url(url, production=True, resolve=DNS)
    assert error is not None and "not a public address" in error
    assert await check_target_url(url, production=False, resolve=DNS) is None


async def test_development_does_not_resolve() -> None:
    dns = FakeDNS({})
    assert await check_target_url("http://consumer.local:3000/hook", production=False, resolve=dns) is None
    assert dns.asked == []


async def test_resolution_uses_the_urls_port_and_failures_are_explained() -> None:
    dns = FakeDNS({"hooks.example.com": ["93.184.216.34"]})
    assert await check_target_url("https://hooks.example.com/x", production=True, resolve=dns) is None
    assert await check_target_url("http://hooks.example.com:8443/x", production=True, resolve=dns) is None
    assert dns.asked == [("hooks.example.com", 443), ("hooks.example.com", 8443)]
    for url in ("https://nowhere.example.com/", "https://empty.example.com/"):
        error = await check_target_url(url, production=True, resolve=DNS)
        assert error is not None and "could not be resolved" in error


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://hooks.example.com/file", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("hooks.example.com/path", "http:// or https://"),
        ("https:///path-only", "host"),
        ("https://user:pass@hooks.example.com/", "credentials"),
        ("https://token@hooks.example.com/", "credentials"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/\r\nHost: evil", "control"),
        ("https://hooks.example.com/" + "a" * 2048, "2048"),
        ("", "required"),
    ],
)
async def test_bad_urls_are_refused_everywhere(url: str, fragment: str) -> None:
    for production in (True, False):
        error = await check_target_url(url, production=production, resolve=DNS)
        assert error is not None and fragment in error, (url, error)


async def test_public_addresses_returns_what_to_connect_to() -> None:
    addresses, error = await public_addresses("hooks.example.com", 443, resolve=DNS)
    assert error is None
    assert [str(a) for a in addresses] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    addresses, error = await public_addresses("mixed.example.com", 443, resolve=DNS)
    assert addresses == [] and error is not None and "192.168.1.10" in error
