"""Is a webhook target URL acceptable? Syntax always; in production also where it points (SSRF).

Kirem posts tenants' events to URLs the tenants choose, from inside the operator's network. In
production a URL may therefore only lead to public addresses: every address its host resolves to
must be public, so ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:6379`` or a
name that resolves to ``10.0.0.5`` are refused. In development (and with the sandbox) consumers
usually run on the same machine, so only the syntax is checked.

The check runs when a target is saved (a clear 400 for the user) and again before each attempt
(an attempt error "refused: …"), because a name can be re-pointed at any time. The HTTP client then
resolves the name once more to connect, so in production the delivery sender's connector resolves
through ``pinned_resolver.PublicOnlyResolver``, which applies ``is_public_address`` to the very
addresses it connects to: a name re-pointed between the check and the connection (DNS rebinding)
is refused too. A delivery through a project's egress proxy connects to the proxy, which the
operator configured; only the check before the attempt then looks at the target's addresses, and
the proxy resolves the name itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> addresses`` as text (``"93.184.216.34"``, ``"2606:2800::1"``)."""

_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/8",  # unspecified, loopback, IPv4-compatible and other reserved
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, …)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip: str | IPAddress) -> bool:
    """True only for a unicast address reachable on the public internet.

    Loopback, private, link-local, unspecified, multicast, reserved, documentation, CGNAT
    (100.64/10) and unique-local addresses are not public; nor is an IPv6 address that embeds one
    of them (IPv4-mapped ``::ffff:127.0.0.1``, NAT64 ``64:ff9b::a00:1``, 6to4 ``2002:a00:1::``).
    Text that is not an address is not public either.
    """
    try:
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _public_v4(embedded)
        return not any(address in net for net in _BLOCKED_V6) and _no_special_flags(address)
    return _public_v4(address)


def _public_v4(address: ipaddress.IPv4Address) -> bool:
    return not any(address in net for net in _BLOCKED_V4) and _no_special_flags(address)


def _no_special_flags(address: IPAddress) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _split(url: object) -> tuple[SplitResult | None, str | None]:
    """Parse and check the URL's form (no network): the parts, or the error text."""
    if not isinstance(url, str) or not url.strip():
        return None, "is required: an http:// or https:// URL"
    return _split_text(url)


@lru_cache(maxsize=4096)
def _split_text(url: str) -> tuple[SplitResult | None, str | None]:
    """:func:`_split` of a text, remembered: the worker checks every attempt's URL, mostly the same
    few targets' (the form of a text never changes; where it points is checked afresh)."""
    if len(url) > MAX_URL_LENGTH:
        return None, f"must be at most {MAX_URL_LENGTH} characters"
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        return None, "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return None, "is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return None, "must be an http:// or https:// URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None, "must not contain credentials (user:password@); send them in a custom header instead"
    if not parts.hostname:
        return None, "must include a host"
    return parts, None


def literal_address(host: str) -> IPAddress | None:
    """The address when ``host`` (as in a URL, IPv6 without brackets) is an IP literal."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Resolve with the event loop's ``getaddrinfo`` (TCP), as the HTTP client will."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
    )
    return [str(info[4][0]) for info in infos]


def refusal(address: str) -> str:
    """Why a host that leads to ``address`` is refused (production)."""
    return (
        f"points to {address}, which is not a public address: loopback, private, link-local "
        "and other internal addresses are refused in production"
    )


async def public_addresses(
    host: str, port: int, *, resolve: Resolver | None = None
) -> tuple[list[IPAddress], str | None]:
    """Every address ``host`` stands for, all public; else the error text."""
    literal = literal_address(host)
    if literal is not None:
        return ([literal], None) if is_public_address(literal) else ([], refusal(str(literal)))
    try:
        found = await (resolve or system_resolve)(host, port)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        return [], f"host {host!r} could not be resolved"
    if not found:
        return [], f"host {host!r} could not be resolved"
    addresses: list[IPAddress] = []
    for text in found:
        address = literal_address(text)
        if address is None or not is_public_address(address):
            return [], refusal(text)
        addresses.append(address)
    return addresses, None


async def check_target_url(url: object, *, production: bool, resolve: Resolver | None = None) -> str | None:
    """``None`` when ``url`` may receive webhooks, else why not (an error text for the user).

    Always: http or https, a host, at most 2048 characters, no ``user:password@``. When
    ``production``: the host is resolved (``resolve`` replaces DNS in tests) and every address
    must be public; an IP literal is checked as it is.
    """
    parts, error = _split(url)
    if parts is None:
        return error
    if not production:
        return None
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    _, error = await public_addresses(parts.hostname, port, resolve=resolve)
    return error
