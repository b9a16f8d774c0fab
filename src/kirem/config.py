"""Runtime settings, read from the environment (prefix ``KIREM_``)."""

from __future__ import annotations

import re
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PRICES: dict[str, int] = {
    "marketing": 650,
    "utility": 400,
    "authentication": 400,
    "service": 0,
    "inbound": 0,
    "delivery": 1,
    "attempt": 0,
}
"""IDR per unit: the first four are Meta's pricing categories of sent messages."""

_ITEM = re.compile(r"^([a-z][a-z0-9_-]{0,47})=(\d{1,9})$")


def parse_prices(text: str) -> dict[str, int]:
    """``name=idr,name=idr`` over the defaults; raises ValueError naming the bad item."""
    prices = dict(DEFAULT_PRICES)
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"{item!r} is not name=whole-rupiah (e.g. marketing=650)")
        prices[match.group(1)] = int(match.group(2))
    return prices


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIREM_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./kirem.db"
    data_dir: Path = Path(".kirem")
    """Where generated secrets (the embedded encryption key, the sandbox app secret) are kept."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    """The URL this server is reached at; defaults to http://{host}:{port}."""

    operator_token: str | None = None
    encryption_key: str | None = None
    """``kid:base64key[,kid:base64key…]``; the first key seals, every key opens."""

    sandbox: bool | None = None
    """The built-in Meta emulator; on by default in development, off in production."""
    sandbox_app_secret: str | None = None
    sandbox_review_seconds: float = 5.0
    sandbox_status_delay_seconds: float = 0.2
    sandbox_throughput_per_second: int = 80
    sandbox_webhook_lease_seconds: float = 30.0
    """How long a sandbox webhook being posted is held from other processes; exceeds its 10 s timeout."""

    meta_graph_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v23.0"
    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    meta_timeout_seconds: float = 30.0
    meta_app_id: str | None = None
    """The Meta app's id: Embedded Signup (setup links) and the app subscription check of live channels."""
    meta_config_id: str | None = None
    """The Embedded Signup configuration id (Facebook Login for Business) the setup-link page runs."""

    worker: bool = True
    """Run inbound processing and webhook delivery inside ``kirem serve`` (off: ``kirem worker`` does)."""
    delivery_lease_seconds: float = 60.0
    """How long a claimed delivery is held; must exceed the longest target timeout (30 s)."""
    inbound_lease_seconds: float = 60.0
    """How long a claimed raw webhook is held before another processor may take it."""

    purge_interval_seconds: float = 3600.0
    """How often logs past the plan's retention are deleted (by every worker; deletes are idempotent)."""
    sla_interval_seconds: float = 30.0
    """How often SLA policies are evaluated (each by one process, however many run)."""
    heartbeat_seconds: float = 10.0
    """How often a process running background work records its heartbeat (shown by ``/readyz``)."""
    handover_seconds: float = 300.0
    """After the owner answers from the phone app, AI agents hold back this long (coexistence)."""

    trusted_proxies: str = ""
    """Comma-separated CIDRs of reverse proxies whose ``X-Forwarded-For`` is believed (IP allowlists)."""

    rate_limit_per_second: float = 100.0
    max_body_bytes: int = 1_048_576
    max_webhook_bytes: int = 10_485_760
    """Largest Meta webhook accepted on ``/webhooks/meta`` (history sync chunks can be large)."""
    max_upload_bytes: int = 105_906_176
    """Largest multipart upload accepted (Meta's 100 MB document limit plus form overhead)."""
    idempotency_ttl_seconds: int = 86_400

    usage_prices: str = ""
    """``name=idr,…`` per-unit prices over the defaults of :data:`DEFAULT_PRICES`."""

    log_level: str = "info"
    log_format: Literal["text", "json"] | None = None
    """``json`` (one object per line, with request ids) by default in production, ``text`` in development."""

    @field_validator("usage_prices")
    @classmethod
    def _check_usage_prices(cls, value: str) -> str:
        parse_prices(value)
        return value

    @cached_property
    def price_table(self) -> dict[str, int]:
        return parse_prices(self.usage_prices)

    @property
    def resolved_log_format(self) -> str:
        return self.log_format or ("json" if self.env == "production" else "text")

    @property
    def sandbox_enabled(self) -> bool:
        return self.sandbox if self.sandbox is not None else self.env == "development"

    @cached_property
    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return [ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir
