"""One signed webhook request to a target: its body and headers, the URL check, the HTTP attempt.

Shared by the delivery worker and the target test, so a test event is signed and sent exactly as a
real delivery is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from kirem import __version__
from kirem.crypto import Sealer
from kirem.delivery.secret import signing_secrets
from kirem.delivery.sender import AttemptResult, WebhookSender
from kirem.delivery.signing import sign_headers
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import HEADER_MASK, RESERVED_HEADER_PREFIXES, RESERVED_HEADERS, open_headers
from kirem.routing.urls import check_target_url
from kirem.tenancy.models import Project


@dataclass(frozen=True)
class TargetSigner:
    """Signs requests to one target: its custom headers and the project's secrets opened once, so a
    batch of deliveries to the target pays for opening them once."""

    target: WebhookTarget
    custom_headers: dict[str, str]
    secrets: list[str]
    now: datetime

    @classmethod
    def open(cls, sealer: Sealer, target: WebhookTarget, secrets: list[str], now: datetime) -> TargetSigner:
        return cls(target, open_headers(sealer, target), secrets, now)

    def sign(
        self, delivery_id: str, event_id: str, event_type: str, kirem_body: bytes, meta_body: bytes
    ) -> tuple[bytes, dict[str, str]]:
        """The body in the target's format and its headers: the target's own, then the signatures."""
        payload_format = self.target.payload_format
        body = meta_body if payload_format == "meta" else kirem_body
        headers = dict(self.custom_headers)
        headers.update(
            sign_headers(
                body=body,
                event_id=event_id,
                delivery_id=delivery_id,
                event_type=event_type,
                secrets=self.secrets,
                timestamp=int(self.now.timestamp()),
                payload_format=payload_format,
                version=__version__,
            )
        )
        return body, headers


def signed_request(
    sealer: Sealer,
    target: WebhookTarget,
    project: Project,
    *,
    event_id: str,
    delivery_id: str,
    event_type: str,
    kirem_body: bytes,
    meta_body: bytes,
    now: datetime,
) -> tuple[bytes, dict[str, str]]:
    """One delivery's body in the target's format and its headers, signed with the project's secrets."""
    signer = TargetSigner.open(sealer, target, signing_secrets(sealer, project, now), now)
    return signer.sign(delivery_id, event_id, event_type, kirem_body, meta_body)


async def attempt(
    sender: WebhookSender, url: str, body: bytes, headers: dict[str, str], timeout: float, *, production: bool
) -> AttemptResult:
    """Post once, unless the URL is refused now (a production host that resolves to a private address)."""
    refusal = await check_target_url(url, production=production)
    if refusal is not None:
        return AttemptResult(None, 0, False, f"refused: {refusal}", "", None, False)
    return await sender.send(url, body, headers, timeout)


def logged_headers(headers: dict[str, str]) -> dict[str, str]:
    """The request headers as an attempt log keeps them: Kirem's own in full, custom ones masked.

    A target's custom headers usually carry credentials and cannot use Kirem's header names, so
    every header outside those names is the target's and its value is replaced by the mask.
    """
    return {name: value if _is_kirems(name) else HEADER_MASK for name, value in headers.items()}


@lru_cache(maxsize=1024)
def _is_kirems(name: str) -> bool:
    """Whether a header name is one of Kirem's own (every delivery asks about the same few names)."""
    lowered = name.lower()
    return lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIXES)
