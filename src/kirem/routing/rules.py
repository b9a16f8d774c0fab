"""Routing rules of a project (create, list, read, change, delete) and the rule tester.

A rule names targets and holds conditions (see :mod:`kirem.routing.conditions`); an event goes to
a target named by enabled rules only when one of them matches, and to a target named by no
enabled rule whenever it subscribes to the event's type (:func:`kirem.routing.matcher.route`).
``rule_specs`` and ``target_specs`` turn stored rows into the matcher's inputs, for the tester here
and for the fan-out of real events.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.scope import for_project
from kirem.inbound.normalize import message_texts
from kirem.kit.bodies import check_flag, unknown_fields
from kirem.kit.errors import invalid
from kirem.kit.views import view_of
from kirem.routing.conditions import EVENT_TYPES, Conditions, parse_conditions
from kirem.routing.matcher import EventFacts, RuleSpec, TargetSpec, route, user_ids_of
from kirem.routing.models import RoutingRule, WebhookTarget
from kirem.routing.targets import RULES, list_targets
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant

log = logging.getLogger("kirem.routing")

NAME_MAX = 200
TARGET_IDS_MAX = 100
RULE_FIELDS = ("name", "enabled", "conditions", "target_ids")
RULE_VIEW_FIELDS = "id name enabled disabled_reason conditions target_ids created_at updated_at"
_NEVER = Conditions(event_types=())
"""Conditions no event meets: stands in for stored conditions that no longer parse."""


def rule_view(rule: RoutingRule) -> dict[str, Any]:
    return view_of(
        rule,
        RULE_VIEW_FIELDS,
        conditions=dict(rule.conditions or {}),
        target_ids=list(rule.target_ids or []),
    )


# Matcher inputs ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _conditions_from_key(key: str) -> Conditions:
    conditions, errors = parse_conditions(orjson.loads(key))
    if conditions is None:
        log.warning("stored routing rule conditions no longer parse: %s", errors)
        return _NEVER
    return conditions


def stored_conditions(raw: dict[str, Any] | None) -> Conditions:
    """Parsed stored conditions, cached by content (regexes are compiled once, not per event)."""
    return _conditions_from_key(orjson.dumps(raw or {}, option=orjson.OPT_SORT_KEYS).decode())


def rule_specs(rules: Iterable[RoutingRule]) -> list[RuleSpec]:
    return [
        RuleSpec(
            id=rule.id,
            name=rule.name,
            enabled=bool(rule.enabled),
            conditions=stored_conditions(rule.conditions),
            target_ids=tuple(rule.target_ids or ()),
        )
        for rule in rules
    ]


def target_specs(targets: Iterable[WebhookTarget]) -> list[TargetSpec]:
    return [
        TargetSpec(id=target.id, enabled=bool(target.enabled), events=tuple(target.events or ()))
        for target in targets
    ]


# Validation ----------------------------------------------------------------------------------


async def _check_target_ids(
    session: AsyncSession, project_id: str, raw: object, errors: dict[str, str]
) -> list[str]:
    if not isinstance(raw, list) or not raw:
        errors["target_ids"] = "must be a non-empty list of this project's webhook target ids"
        return []
    if len(raw) > TARGET_IDS_MAX:
        errors["target_ids"] = f"at most {TARGET_IDS_MAX} targets"
        return []
    wanted = [item for item in raw if isinstance(item, str)]
    stmt = for_project(WebhookTarget, project_id).where(WebhookTarget.id.in_(wanted))
    known = {target.id for target in (await session.execute(stmt)).scalars()} if wanted else set()
    ids: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            errors[f"target_ids[{index}]"] = "must be a target id (a string)"
        elif item not in known:
            errors[f"target_ids[{index}]"] = "unknown target"
        elif item not in ids:
            ids.append(item)
    return ids


async def _rule_fields(
    session: AsyncSession, project_id: str, body: dict[str, Any], *, creating: bool
) -> dict[str, Any]:
    errors = unknown_fields(body, RULE_FIELDS)
    values: dict[str, Any] = {}
    if creating or "name" in body:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
            errors["name"] = f"is required: a string of 1 to {NAME_MAX} characters"
        else:
            values["name"] = name.strip()
    check_flag(body, "enabled", values, errors)
    if "conditions" in body:
        conditions, problems = parse_conditions(body["conditions"])
        if conditions is None:
            errors.update(problems or {"conditions": "invalid conditions"})
        else:
            values["conditions"] = conditions.to_json()
    if creating or "target_ids" in body:
        values["target_ids"] = await _check_target_ids(session, project_id, body.get("target_ids"), errors)
    if errors:
        raise invalid(errors)
    return values


# Service -------------------------------------------------------------------------------------


async def create_rule(session: AsyncSession, tenant: Tenant, body: dict[str, Any]) -> RoutingRule:
    """A new rule (the caller commits); 403 past the plan's ``routing_rules``, 400 on bad fields."""
    values = await _rule_fields(session, tenant.project_id, body, creating=True)
    rule = RoutingRule(project_id=tenant.project_id, **{"enabled": True, "conditions": {}, **values})
    return await RULES.add(session, tenant, rule)


list_rules = RULES.listed
get_rule = RULES.get


async def update_rule(
    session: AsyncSession, tenant: Tenant, rule_id: str, body: dict[str, Any]
) -> RoutingRule:
    """Change the fields in ``body`` (the caller commits); ``conditions`` is replaced as a whole."""
    rule = await get_rule(session, tenant.project_id, rule_id)
    values = await _rule_fields(session, tenant.project_id, body, creating=False)
    if values.get("enabled") is True and not rule.enabled:
        await RULES.check_enabling(session, tenant)
    if "enabled" in values:
        rule.disabled_by_plan, rule.disabled_reason = False, None
    for key, value in values.items():
        setattr(rule, key, value)
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, tenant: Tenant, rule_id: str) -> None:
    rule = await get_rule(session, tenant.project_id, rule_id)
    await session.delete(rule)
    await session.flush()


# The rule tester -----------------------------------------------------------------------------


def _text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) and value else None


def _kirem_form(sample: dict[str, Any], errors: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """Facts of ``{"event": type, "data": {…}}``, the envelope targets receive."""
    event_type = sample.get("event")
    if event_type not in EVENT_TYPES:
        errors["event.event"] = f"must be one of {', '.join(EVENT_TYPES)}"
    data = sample.get("data", {})
    if not isinstance(data, dict):
        errors["event.data"] = "must be an object"
        data = {}
    message_type = sender = None
    user_ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    voice = False
    if event_type in ("messages.received", "messages.echo"):
        message_type = _text(data.get("type"))
        sender = _text(data.get("from" if event_type == "messages.received" else "to"))
        user_ids = user_ids_of(data.get("user_id"), data.get("parent_user_id"))
        texts = message_texts(data)
        audio = data.get("audio")
        voice = message_type == "audio" and isinstance(audio, dict) and audio.get("voice") is True
    elif event_type == "messages.status":
        sender = _text(data.get("recipient_id"))
        user_ids = user_ids_of(data.get("recipient_user_id"), data.get("recipient_parent_user_id"))
    facts = {
        "type": event_type,
        "message_type": message_type,
        "sender": sender,
        "sender_user_ids": user_ids,
        "texts": texts,
        "voice": voice,
    }
    channel = _text(data.get("channel_id")) or _text(sample.get("channel_id"))
    return facts, channel or _text(data.get("phone_number_id"))


SHORT_FORM_KEYS = ("type", "message_type", "from", "user_id", "text", "channel_id", "phone_number_id")


def _short_form(
    sample: dict[str, Any], errors: dict[str, str], prefix: str
) -> tuple[dict[str, Any], str | None]:
    """Facts of ``{"type", "message_type", "from", "user_id", "text", "channel_id"}`` (all optional).

    ``from`` is the customer's number (or their BSUID), ``user_id`` their BSUID.

    Unknown keys are refused, so a misspelt condition field does not silently match everything.
    """
    for key in sample:
        if key not in SHORT_FORM_KEYS:
            errors[f"{prefix}{key}"] = f"unknown field; the short form takes {', '.join(SHORT_FORM_KEYS)}"
    event_type = sample.get("type", "messages.received")
    if event_type not in EVENT_TYPES:
        errors[f"{prefix}type"] = f"must be one of {', '.join(EVENT_TYPES)}"
    raw_texts = sample.get("text")
    if raw_texts is None:
        texts: tuple[str, ...] = ()
    elif isinstance(raw_texts, str):
        texts = (raw_texts,) if raw_texts else ()
    elif isinstance(raw_texts, list) and all(isinstance(t, str) for t in raw_texts):
        texts = tuple(t for t in raw_texts if t)
    else:
        texts = ()
        errors[f"{prefix}text"] = "must be a string or a list of strings"
    message_type = sample.get("message_type")
    if message_type is None and texts and event_type in ("messages.received", "messages.echo"):
        message_type = "text"
    if message_type is not None and not isinstance(message_type, str):
        errors[f"{prefix}message_type"] = "must be a string"
        message_type = None
    voice = message_type == "voice"
    sender = _text(sample.get("from"))
    user_ids = user_ids_of(sample.get("user_id"), sender)
    facts = {
        "type": event_type,
        "message_type": "audio" if voice else message_type,
        "sender": None if sender in user_ids else sender,
        "sender_user_ids": user_ids,
        "texts": texts,
        "voice": voice,
    }
    return facts, _text(sample.get("channel_id")) or _text(sample.get("phone_number_id"))


async def sample_facts(session: AsyncSession, project_id: str, body: dict[str, Any]) -> EventFacts:
    """The facts of the ``event`` in a rule-test body; 400 when it cannot be read.

    ``event`` is a Kirem envelope as targets receive it (``{"event": type, "data": {…}}``) or the
    short form ``{"type", "message_type", "from", "text", "channel_id"}`` where every key is
    optional (type defaults to ``messages.received``, message_type to ``text`` when there is
    text). Either may also be the body itself, unwrapped.

    The channel may be given by Kirem channel id or phone number id: it is resolved to the
    project's channel id, as for real events.
    """
    sample = body.get("event")
    prefix = "event."
    if isinstance(sample, str) and "data" in body:
        sample = body  # the envelope itself was sent, not wrapped in {"event": …}
    elif "event" not in body and any(key in body for key in SHORT_FORM_KEYS):
        sample, prefix = body, ""  # the short form itself was sent
    if not isinstance(sample, dict):
        raise invalid({"event": "must be an object: a Kirem event {event, data} or {type, from, text, …}"})
    errors: dict[str, str] = {}
    if "event" in sample or "data" in sample:
        facts, channel = _kirem_form(sample, errors)
    else:
        facts, channel = _short_form(sample, errors, prefix)
    if errors:
        raise invalid(errors)
    if channel is not None:
        stmt = for_project(Channel, project_id).where(
            or_(Channel.id == channel, Channel.phone_number_id == channel)
        )
        found = (await session.execute(stmt.limit(1))).scalar_one_or_none()
        channel = found.id if found is not None else channel
    return EventFacts(channel_id=channel, **facts)


async def run_rule_test(session: AsyncSession, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    """Which of the project's targets would receive this event, and why (nothing is sent)."""
    facts = await sample_facts(session, tenant.project_id, body)
    targets = await list_targets(session, tenant.project_id)
    rules = await list_rules(session, tenant.project_id)
    selected, not_selected = route(facts, rule_specs(rules), target_specs(targets))
    decisions = {d.target_id: (True, d) for d in selected} | {d.target_id: (False, d) for d in not_selected}
    answers = []
    for target in targets:
        chosen, decision = decisions[target.id]
        answers.append(
            {
                "target_id": target.id,
                "url": target.url,
                "selected": chosen,
                "reason": decision.reason,
                "rule_ids": list(decision.rule_ids),
            }
        )
    shown = asdict(facts)
    shown["texts"] = list(facts.texts)
    return {"targets": answers, "facts": shown}
