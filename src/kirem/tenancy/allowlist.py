"""Per-project IP allowlists (growth plan and up) and finding the caller's address behind proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ENTRIES = 100


def parse_networks(raw: object) -> tuple[list[str], dict[str, str]]:
    """Validate a list of CIDRs (a bare address means just that address); return them normalised."""
    if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
        return [], {
            "cidrs": f"must be a list of at most {MAX_ENTRIES} CIDR ranges (an empty list turns it off)"
        }
    networks: list[str] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(raw):
        try:
            networks.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            errors[f"cidrs[{index}]"] = f"{item!r} is not an IP address or CIDR range such as 203.0.113.0/24"
    return sorted(set(networks)), errors


def networks_of(values: Sequence[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def _inside(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IPNetwork]) -> str:
    """The caller: the peer, unless it is a trusted proxy; then the last ``X-Forwarded-For`` hop
    that is not itself a trusted proxy (hops further left could be forged by the client)."""
    address = peer or ""
    if not forwarded_for or not _inside(address, trusted_proxies):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not _inside(hop, trusted_proxies):
            break
    return address


def allowed(address: str, allowlist: Sequence[str]) -> bool:
    return not allowlist or _inside(address, networks_of(allowlist))
