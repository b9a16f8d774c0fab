"""Dedicated outbound addresses (scale plan and up): where a project's webhook deliveries leave from.

A project may set a source address to bind (``bind_address``: one of this server's addresses,
typically one routed through a dedicated public IP) and/or an HTTP(S) proxy (``proxy_url``) that
every delivery goes through. The proxy URL may carry credentials, so it is stored sealed and shown
with its password masked. The delivery worker keeps one sender per distinct egress
(``kirem.delivery.egress``).

Whether the settings apply is read from the account's limits (plan and operator overrides) each
time they are looked up, so a downgrade or an override that removes ``dedicated_outbound_ip``
keeps them but stops using them, and an upgrade uses them again with nothing to re-enter.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kirem.crypto import Sealer
from kirem.tenancy.models import Account, Project
from kirem.tenancy.plans import PLANS, limits_for, plan_lifting

MAX_PROXY_URL = 2000
MASK = "****"


@dataclass(frozen=True)
class Egress:
    bind_address: str | None = None
    proxy_url: str | None = None


def _bind_error(value: object) -> str | None:
    """Why ``value`` cannot be a source address of this server, or None when it can."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return "must be an IP address of this server, such as 203.0.113.7"
    if "/" in value:
        return "must be one IP address, not a network (CIDR)"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    if address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255":
        return "must be a unicast address of this server (not unspecified, multicast or broadcast)"
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return f"{address} is not an address of this server: deliveries cannot leave from it"
    return None


def _proxy_error(value: object) -> str | None:
    if not isinstance(value, str) or not value or len(value) > MAX_PROXY_URL:
        return f"must be an http(s) proxy URL of at most {MAX_PROXY_URL} characters"
    if any(ord(c) < 33 or ord(c) == 127 for c in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "must be an http(s) proxy URL such as http://proxy.internal:3128"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) proxy URL such as http://proxy.internal:3128"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must name only the proxy (scheme, optional credentials, host and port)"
    return None


def parse_egress(body: dict[str, Any]) -> tuple[Egress, dict[str, str]]:
    """The egress a ``PUT`` asks for (``null`` or absent turns a part off) and the errors, by field."""
    errors: dict[str, str] = {}
    unknown = sorted(set(body) - {"bind_address", "proxy_url"})
    if unknown:
        errors.update({key[:100]: "is not a setting: use bind_address and proxy_url" for key in unknown[:10]})
    bind, proxy = body.get("bind_address"), body.get("proxy_url")
    if bind is not None and (error := _bind_error(bind)):
        errors["bind_address"] = error
    if proxy is not None and (error := _proxy_error(proxy)):
        errors["proxy_url"] = error
    if errors:
        return Egress(), errors
    normalised = str(ipaddress.ip_address(bind)) if isinstance(bind, str) else None
    return Egress(normalised, proxy if isinstance(proxy, str) else None), {}


def stored(sealer: Sealer, project: Project, egress: Egress) -> dict[str, Any]:
    """What ``projects.egress`` keeps: the address in clear, the proxy URL sealed (and masked, to show)."""
    kept: dict[str, Any] = {}
    if egress.bind_address:
        kept["bind_address"] = egress.bind_address
    if egress.proxy_url:
        kept["proxy_sealed"] = sealer.seal(egress.proxy_url, project.id, "egress_proxy")
        kept["proxy_url_masked"] = masked(egress.proxy_url)
    return kept


def inactive_reason(account: Account) -> str | None:
    """Why the account's projects cannot use their egress settings now, or None when they can."""
    if limits_for(account.plan, account.limit_overrides).dedicated_outbound_ip:
        return None
    if PLANS[account.plan].dedicated_outbound_ip:
        return (
            "Dedicated outbound IPs are turned off for this account by an operator override; "
            "deliveries leave from the default address."
        )
    return (
        f"Dedicated outbound IPs are not part of the {account.plan} plan; deliveries leave from the "
        f"default address until an upgrade to the {plan_lifting('dedicated_outbound_ip')} plan."
    )


def project_egress(sealer: Sealer, project: Project, account: Account) -> Egress | None:
    """The project's egress, or None when its deliveries leave the default way (none set, or the
    account's limits no longer allow it)."""
    kept = project.egress or {}
    if not kept or inactive_reason(account) is not None:
        return None
    sealed = kept.get("proxy_sealed")
    proxy = sealer.open(sealed, project.id, "egress_proxy") if sealed else None
    return Egress(kept.get("bind_address"), proxy)


def masked(proxy_url: str) -> str:
    """The proxy URL with its credentials masked: ``http://user:****@host:3128``."""
    parts = urlsplit(proxy_url)
    if "@" not in parts.netloc:
        return proxy_url
    host = parts.netloc.rsplit("@", 1)[1]
    userinfo = f"{parts.username}:{MASK}" if parts.password is not None else MASK
    return parts._replace(netloc=f"{userinfo}@{host}").geturl()


def egress_view(project: Project, account: Account) -> dict[str, Any]:
    """The settings as kept, and whether deliveries use them (``active``) or why not."""
    kept = project.egress or {}
    reason = inactive_reason(account) if kept else None
    return {
        "bind_address": kept.get("bind_address"),
        "proxy_url": kept.get("proxy_url_masked"),
        "active": bool(kept) and reason is None,
        "inactive_reason": reason,
    }
