"""Routing's one entry point: which targets an event goes to. Decisions only; delivery makes them rows.

An event keeps the facts it was routed on (:func:`stored_facts`), so a replay routes it exactly as
it was routed first (:func:`event_facts`). A project's targets and rules are read either straight
from the database (:func:`project_routing`, for a transaction that may have changed them) or through
the per-process cache (:func:`kirem.routing.cache.routing_of`, for the processing pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.scope import for_project
from kirem.routing.matcher import Decision, EventFacts, RuleSpec, TargetSpec, route
from kirem.routing.models import RoutingRule, WebhookTarget
from kirem.routing.rules import rule_specs, target_specs


class RoutableEvent(Protocol):
    """What routing reads of a stored event."""

    @property
    def type(self) -> str: ...

    @property
    def channel_id(self) -> str | None: ...

    @property
    def facts(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ProjectRouting:
    """A project's targets and rules as the matcher takes them (no ORM rows: safe to share)."""

    targets: tuple[TargetSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()


def stored_facts(facts: EventFacts) -> dict[str, Any]:
    """What an event keeps of its facts, so a replay routes it exactly as it was routed first."""
    return {
        "message_type": facts.message_type,
        "sender": facts.sender,
        "sender_user_ids": list(facts.sender_user_ids),
        "texts": list(facts.texts),
        "voice": facts.voice,
    }


def event_facts(event: RoutableEvent) -> EventFacts:
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


def routing_from(targets: list[WebhookTarget], rules: list[RoutingRule]) -> ProjectRouting:
    if not targets:
        return ProjectRouting()
    return ProjectRouting(tuple(target_specs(targets)), tuple(rule_specs(rules)))


async def project_routing(session: AsyncSession, project_id: str) -> ProjectRouting:
    """The project's routing as this transaction sees it (uncached)."""
    targets = list((await session.execute(for_project(WebhookTarget, project_id))).scalars())
    if not targets:
        return ProjectRouting()
    rules = list((await session.execute(for_project(RoutingRule, project_id))).scalars())
    return routing_from(targets, rules)


def decide(event: RoutableEvent, routing: ProjectRouting) -> list[Decision]:
    """The targets that get the event (a disabled one too, with ``target_enabled`` False)."""
    if not routing.targets:
        return []
    selected, _ = route(event_facts(event), routing.rules, routing.targets)
    return selected
