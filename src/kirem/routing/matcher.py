"""Which targets get an event: rule conditions against event facts, then the fan-out decision.

Pure functions, no database. Semantics (docs/routing.md, "Rules", tells users the same):

* within a condition the list items are alternatives (OR); the conditions of a rule must all hold
  (AND); an absent condition matches everything; a condition about something the event does not
  have (``message_types`` on a status, ``keywords`` on an event without text) does not match;
* a target is selected when it subscribes to the event type (no subscribed types = all) and
  either no *enabled* rule names it (it gets every event it subscribes to) or at least one
  enabled rule naming it matches. Disabled rules are ignored entirely.
* a disabled target is still selected (``Decision.target_enabled`` is False and the reason says
  so): the caller stores its delivery as ``skipped`` so it can be replayed later.

Reasons are short English sentences shown by ``POST /v1/webhooks/rules/test``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kirem.bsuid import is_bsuid, is_parent_bsuid
from kirem.phones import digits
from kirem.routing.conditions import VOICE, Conditions, is_bsuid_pattern

if TYPE_CHECKING:
    from kirem.inbound.normalize import NormalizedEvent

_SHOWN_ITEMS = 5
"""How many items of a condition list a reason quotes before "...". """


@dataclass(frozen=True)
class EventFacts:
    """What a rule looks at; built from a normalised event and its channel (:func:`facts_from`)."""

    type: str
    message_type: str | None
    sender: str | None
    texts: tuple[str, ...]
    channel_id: str | None
    voice: bool = False
    """An ``audio`` message that is a voice note (Meta's ``audio.voice: true``): matches ``voice``."""
    sender_user_ids: tuple[str, ...] = ()
    """The customer's BSUID and parent BSUID, when the event shows them: ``senders`` BSUIDs match these."""


@dataclass(frozen=True)
class RuleSpec:
    id: str
    name: str
    enabled: bool
    conditions: Conditions
    target_ids: tuple[str, ...]


@dataclass(frozen=True)
class TargetSpec:
    id: str
    enabled: bool
    events: tuple[str, ...]
    """Subscribed event types; empty = all."""


@dataclass(frozen=True)
class Decision:
    target_id: str
    reason: str
    rule_ids: tuple[str, ...]
    """The enabled rules naming the target that matched (selected) or did not (not selected)."""
    target_enabled: bool = True
    """False for a selected but disabled target: store the delivery as ``skipped``."""


def facts_from(event: NormalizedEvent, channel_id: str | None) -> EventFacts:
    audio = event.data.get("audio") if event.message_type == "audio" else None
    return EventFacts(
        type=event.type,
        message_type=event.message_type,
        sender=event.sender,
        texts=event.texts,
        channel_id=channel_id,
        voice=isinstance(audio, dict) and audio.get("voice") is True,
        sender_user_ids=user_ids_of(event.customer.user_id, event.customer.parent_user_id),
    )


def user_ids_of(*values: object) -> tuple[str, ...]:
    """The well-formed BSUIDs and parent BSUIDs among ``values``."""
    return tuple(v for v in values if isinstance(v, str) and (is_bsuid(v) or is_parent_bsuid(v)))


def rule_matches(conditions: Conditions, facts: EventFacts) -> tuple[bool, str]:
    """Whether every condition holds; the reason names the first one that does not."""
    if conditions.event_types is not None and facts.type not in conditions.event_types:
        return False, f"event_types: {facts.type!r} not in {_show(conditions.event_types)}"
    if conditions.channel_ids is not None:
        if facts.channel_id is None:
            return False, "channel_ids: the event has no channel"
        if facts.channel_id not in conditions.channel_ids:
            return False, f"channel_ids: {facts.channel_id!r} not in {_show(conditions.channel_ids)}"
    if conditions.message_types is not None:
        if facts.message_type is None:
            return False, "message_types: the event is not a message"
        if not _message_type_matches(conditions.message_types, facts):
            return False, f"message_types: {facts.message_type!r} not in {_show(conditions.message_types)}"
    if conditions.senders is not None:
        if facts.sender is None and not facts.sender_user_ids:
            return False, "senders: the event has no sender"
        if not any(_sender_matches(pattern, facts) for pattern in conditions.senders):
            shown = " / ".join(repr(s) for s in (facts.sender, *facts.sender_user_ids) if s)
            return False, f"senders: {shown} matches none of {_show(conditions.senders)}"
    if conditions.keywords is not None:
        if not facts.texts:
            return False, "keywords: the event has no text"
        folded = [text.casefold() for text in facts.texts]
        if not any(keyword in text for keyword in conditions.folded_keywords for text in folded):
            return False, f"keywords: none of {_show(conditions.keywords)} found"
    if conditions.regex is not None:
        if not facts.texts:
            return False, "regex: the event has no text"
        if not any(_search(conditions.compiled_regex, text) for text in facts.texts):
            return False, f"regex: {conditions.regex!r} does not match"
    return True, "all conditions matched" if not conditions.is_empty else "no conditions: matches every event"


def route(
    facts: EventFacts, rules: Sequence[RuleSpec], targets: Sequence[TargetSpec]
) -> tuple[list[Decision], list[Decision]]:
    """``(selected, not_selected)``, one decision per target, in the order of ``targets``."""
    selected: list[Decision] = []
    not_selected: list[Decision] = []
    for target in targets:
        if target.events and facts.type not in target.events:
            not_selected.append(
                Decision(target.id, f"not subscribed to {facts.type}", (), target_enabled=target.enabled)
            )
            continue
        naming = [rule for rule in rules if target.id in rule.target_ids]
        enabled = [rule for rule in naming if rule.enabled]
        if not enabled:
            reason = "no enabled rule names this target: it receives every event it subscribes to"
            if naming:
                reason += f" (disabled rules ignored: {', '.join(_label(r) for r in naming)})"
            selected.append(_selected(target, reason, ()))
            continue
        matched: list[RuleSpec] = []
        misses: list[str] = []
        for rule in enabled:
            ok, why = rule_matches(rule.conditions, facts)
            if ok:
                matched.append(rule)
            else:
                misses.append(f"{_label(rule)}: {why}")
        if matched:
            verb = "matched" if len(matched) == 1 else "all matched"
            reason = f"{_join(_label(r) for r in matched)} {verb}"
            selected.append(_selected(target, reason, tuple(r.id for r in matched)))
        else:
            reason = "rules naming it did not match: " + "; ".join(misses)
            not_selected.append(
                Decision(target.id, reason, tuple(r.id for r in enabled), target_enabled=target.enabled)
            )
    return selected, not_selected


def _selected(target: TargetSpec, reason: str, rule_ids: tuple[str, ...]) -> Decision:
    if not target.enabled:
        reason = f"{reason}; the target is disabled, so the delivery is kept as skipped"
    return Decision(target.id, reason, rule_ids, target_enabled=target.enabled)


def _message_type_matches(wanted: tuple[str, ...], facts: EventFacts) -> bool:
    if facts.message_type in wanted:
        return True
    return VOICE in wanted and facts.message_type == "audio" and facts.voice


def _sender_matches(pattern: str, facts: EventFacts) -> bool:
    """A number pattern against the customer's phone, a BSUID pattern against their BSUIDs."""
    if is_bsuid_pattern(pattern):
        candidates: tuple[str, ...] = facts.sender_user_ids
    else:
        candidates = (digits(facts.sender),) if facts.sender else ()
    if pattern.endswith("*"):
        return any(c.startswith(pattern[:-1]) for c in candidates)
    return pattern in candidates


def _search(compiled: Any, text: str) -> bool:
    try:
        return compiled.search(text) is not None
    except UnicodeError:  # lone surrogates cannot be encoded for RE2
        return compiled.search(text.encode("utf-8", "replace").decode("utf-8")) is not None


def _label(rule: RuleSpec) -> str:
    return f"rule {rule.name!r} ({rule.id})"


def _join(labels: Iterable[str]) -> str:
    items = list(labels)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _show(values: tuple[str, ...]) -> str:
    shown = [repr(v) for v in values[:_SHOWN_ITEMS]]
    if len(values) > _SHOWN_ITEMS:
        shown.append(f"... {len(values) - _SHOWN_ITEMS} more")
    return "[" + ", ".join(shown) + "]"
