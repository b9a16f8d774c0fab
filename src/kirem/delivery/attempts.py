"""One signed webhook request to a target: its body and headers, the URL check, the HTTP attempt.

Shared by the delivery worker and the target test, so a test event is signed and sent exactly as a
real delivery is.
"""

from __future__ import annotations

from datetime import datetime

from kirem import __version__
from kirem.crypto import Sealer
from kirem.delivery.secret import signing_secrets
from kirem.delivery.sender import AttemptResult, WebhookSender
from kirem.delivery.signing import sign_headers
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import HEADER_MASK, RESERVED_HEADER_PREFIXES, RESERVED_HEADERS, open_headers
from kirem.routing.urls import check_target_url
from kirem.tenancy.models import Project


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
    secrets: list[str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body in the target's format and its headers: the target's own, then the signatures.

    ``secrets`` are the project's signing secrets when the caller has opened them already (a batch
    of one project's deliveries opens them once).
    """
    body = meta_body if target.payload_format == "meta" else kirem_body
    headers = open_headers(sealer, target)
    headers.update(
        sign_headers(
            body=body,
            event_id=event_id,
            delivery_id=delivery_id,
            event_type=event_type,
            secrets=secrets if secrets is not None else signing_secrets(sealer, project, now),
            timestamp=int(now.timestamp()),
            payload_format=target.payload_format,
            version=__version__,
        )
    )
    return body, headers


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
    return {
        name: value
        if name.lower() in RESERVED_HEADERS or name.lower().startswith(RESERVED_HEADER_PREFIXES)
        else HEADER_MASK
        for name, value in headers.items()
    }
