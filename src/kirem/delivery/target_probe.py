"""``POST /v1/webhooks/targets/{id}/test``: a signed sample event sent now, and what the consumer said.

The sample is signed and sent exactly like a real delivery (same headers, signatures, URL rules
and the project's dedicated egress when it has one), with the event type ``webhooks.test`` so a
consumer can tell it apart. Nothing is stored, queued, retried or counted as usage; a consumer
that is down or slow is an answer, not an error.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.db.base import new_id, utcnow
from kirem.delivery.attempts import attempt, signed_request
from kirem.delivery.egress import EgressSenders
from kirem.delivery.sender import default_sender
from kirem.inbound.events import kirem_envelope
from kirem.routing.targets import get_target
from kirem.tenancy.egress import project_egress
from kirem.tenancy.service import Tenant

TEST_EVENT = "webhooks.test"
BODY_EXCERPT = 1000
"""Characters of the consumer's answer shown back."""
META_TEST_BODY = orjson.dumps({"object": "whatsapp_business_account", "entry": []})
"""A Meta-format target gets Meta's envelope with no entries: a Meta consumer acknowledges it as is."""


async def send_test_event(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, target_id: str
) -> dict[str, Any]:
    target = await get_target(session, tenant.project_id, target_id)
    now = utcnow()
    event_id, delivery_id = new_id("evt"), new_id("dlv")
    data = {
        "test": True,
        "target_id": target.id,
        "message": "A test event from Kirem: answer 2xx to acknowledge it.",
    }
    body, headers = signed_request(
        ctx.sealer,
        target,
        tenant.project,
        event_id=event_id,
        delivery_id=delivery_id,
        event_type=TEST_EVENT,
        kirem_body=kirem_envelope(event_id, TEST_EVENT, now, tenant.project_id, data),
        meta_body=META_TEST_BODY,
        now=now,
    )
    url, timeout = target.url, target.timeout_seconds
    egress = project_egress(ctx.sealer, tenant.project, tenant.account)
    await session.commit()  # nothing to write: end the read before waiting on the consumer
    production = ctx.settings.env == "production"
    senders = EgressSenders()
    sender = (
        default_sender(production=production)
        if egress is None
        else senders.sender(egress, production=production)
    )
    try:
        result = await attempt(sender, url, body, headers, timeout, production=production)
    finally:
        await sender.aclose()
        await senders.aclose()
    return {
        "target_id": target_id,
        "url": url,
        "event": TEST_EVENT,
        "event_id": event_id,
        "delivery_id": delivery_id,
        "success": result.is_success,
        "status_code": result.status_code,
        "latency_ms": result.duration_ms,
        "error": result.error,
        "response_body": result.response_body[:BODY_EXCERPT],
        "response_truncated": len(result.response_body) > BODY_EXCERPT,
    }
