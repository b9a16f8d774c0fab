"""From an event to its delivery rows: the project's rules and targets decide who gets it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import new_id, utcnow
from kirem.db.scope import for_project, insert_all_if_absent
from kirem.delivery.models import Delivery
from kirem.inbound.models import Event
from kirem.routing.matcher import Decision, EventFacts, route
from kirem.routing.models import RoutingRule, WebhookTarget
from kirem.routing.rules import rule_specs, target_specs
from kirem.usage import meter as usage


def stored_facts(facts: EventFacts) -> dict[str, Any]:
    """What an event keeps of its facts, so a replay routes it exactly as it was routed first."""
    return {
        "message_type": facts.message_type,
        "sender": facts.sender,
        "sender_user_ids": list(facts.sender_user_ids),
        "texts": list(facts.texts),
        "voice": facts.voice,
    }


def event_facts(event: Event) -> EventFacts:
    facts: dict[str, Any] = event.facts or {}
    return EventFacts(
        type=event.type,
        message_type=facts.get("message_type"),
        sender=facts.get("sender"),
        texts=tuple(facts.get("texts") or ()),
        channel_id=event.channel_id,
        voice=bool(facts.get("voice")),
        sender_user_ids=tuple(facts.get("sender_user_ids") or ()),
    )


async def project_routing(
    session: AsyncSession, project_id: str
) -> tuple[list[WebhookTarget], list[RoutingRule]]:
    targets = list((await session.execute(for_project(WebhookTarget, project_id))).scalars())
    if not targets:
        return [], []
    rules = list((await session.execute(for_project(RoutingRule, project_id))).scalars())
    return targets, rules


def decide(event: Event, targets: list[WebhookTarget], rules: list[RoutingRule]) -> list[Decision]:
    if not targets:
        return []
    selected, _ = route(event_facts(event), rule_specs(rules), target_specs(targets))
    return selected


async def fan_out(
    session: AsyncSession,
    event: Event,
    routing: tuple[list[WebhookTarget], list[RoutingRule]] | None = None,
    now: datetime | None = None,
) -> int:
    """Create one delivery per selected target (``skipped`` for a disabled one); return how many."""
    targets, rules = routing if routing is not None else await project_routing(session, event.project_id)
    by_id = {t.id: t for t in targets}
    now = now or utcnow()
    decisions = decide(event, targets, rules)
    rows = [
        {
            "id": new_id("dlv"),
            "project_id": event.project_id,
            "event_id": event.id,
            "target_id": target.id,
            "event_type": event.type,
            "status": "pending" if target.enabled else "skipped",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for target in (by_id[decision.target_id] for decision in decisions)
    ]
    pending = [row for row in rows if row["status"] == "pending"]
    created = await insert_all_if_absent(session, Delivery, pending)
    await insert_all_if_absent(session, Delivery, [row for row in rows if row["status"] != "pending"])
    await usage.count(session, event.project_id, {usage.DELIVERIES: created}, now)
    return len(decisions)
