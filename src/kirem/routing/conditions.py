"""A routing rule's conditions: validation of the stored/submitted object and its parsed form.

The ``conditions`` object of a rule may hold any of these keys (an absent key matches everything):

* ``event_types``: Kirem event types (:data:`EVENT_TYPES`);
* ``message_types``: Meta message types (:data:`MESSAGE_TYPES`); ``voice`` means an ``audio``
  message recorded with the voice-note button (Meta's ``audio.voice: true``);
* ``senders``: customer numbers, exact (``"6281234567"``) or a prefix ending in ``*`` (``"628*"``),
  ``+``, spaces and dashes ignored; or business-scoped user ids, exact (``"US.13491208655302741918"``)
  or a prefix ending in ``*`` (``"US.*"``: every customer whose BSUID is from the US);
* ``keywords``: case-insensitive "contains", any of the list;
* ``regex``: one RE2 pattern (linear-time matching, no backreferences or lookaround), at most
  :data:`REGEX_MAX_LENGTH` characters; case-sensitive unless it starts with ``(?i)``;
* ``channel_ids``: Kirem channel ids.

Every list holds 1 to :data:`LIST_MAX_ITEMS` strings of at most :data:`ITEM_MAX_LENGTH` characters.
Errors are keyed by path: ``conditions.regex``, ``conditions.senders[2]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import re2

from kirem.bsuid import is_bsuid, is_parent_bsuid
from kirem.kit.enums import EventType
from kirem.kit.message_types import INBOUND_TYPES
from kirem.phones import ascii_digits

EVENT_TYPES: tuple[str, ...] = tuple(EventType)
VOICE = "voice"
"""A condition-only message type: Meta sends voice notes as ``audio`` with ``voice: true``."""
_AFTER_AUDIO = INBOUND_TYPES.index("audio") + 1
MESSAGE_TYPES: tuple[str, ...] = (
    *INBOUND_TYPES[:_AFTER_AUDIO],
    VOICE,
    *INBOUND_TYPES[_AFTER_AUDIO:],
    "request_welcome",
)
LIST_MAX_ITEMS = 100
ITEM_MAX_LENGTH = 200
REGEX_MAX_LENGTH = 1000
KEYS = ("event_types", "message_types", "senders", "keywords", "regex", "channel_ids")

_SENDER_NOISE = re.compile(r"[\s+\-]")
_SENDER = re.compile(r"^[0-9]{1,15}\*?$")
_BSUID_PREFIX = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{0,128}\*", re.ASCII)
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # invalid user patterns are reported to the user, not logged to stderr


def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2; raises ``re2.error`` when it is not valid RE2 syntax."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


@dataclass(frozen=True)
class Conditions:
    """Parsed conditions. ``None`` = the condition is absent (matches everything)."""

    event_types: tuple[str, ...] | None = None
    message_types: tuple[str, ...] | None = None
    senders: tuple[str, ...] | None = None
    """Digits, or a (parent) BSUID, optionally ending in ``*`` (prefix)."""
    keywords: tuple[str, ...] | None = None
    """As the user wrote them; matching uses :attr:`folded_keywords`."""
    regex: str | None = None
    channel_ids: tuple[str, ...] | None = None
    folded_keywords: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    compiled_regex: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.keywords is not None:
            object.__setattr__(self, "folded_keywords", tuple(k.casefold() for k in self.keywords))
        if self.regex is not None:
            object.__setattr__(self, "compiled_regex", compile_regex(self.regex))

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, key) is None for key in KEYS)

    def to_json(self) -> dict[str, Any]:
        """The stored form; :func:`parse_conditions` reads it back to an equal object."""
        out: dict[str, Any] = {}
        for key in KEYS:
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


def parse_conditions(raw: object) -> tuple[Conditions | None, dict[str, str]]:
    """Validate a rule's ``conditions`` object: ``(Conditions, {})`` or ``(None, errors by path)``.

    ``None`` and ``{}`` are valid: no condition, the rule matches every event.
    """
    if raw is None:
        return Conditions(), {}
    if not isinstance(raw, dict):
        return None, {"conditions": "must be an object"}
    errors: dict[str, str] = {}
    for key in raw:
        if key not in KEYS:
            errors[f"conditions.{key}"] = f"unknown condition {key!r}; expected one of {', '.join(KEYS)}"
    parsed: dict[str, Any] = {}
    for key, item_check in _LIST_CHECKS.items():
        if key in raw:
            parsed[key] = _parse_list(key, raw[key], item_check, errors)
    if "regex" in raw:
        parsed["regex"] = _parse_regex(raw["regex"], errors)
    if errors:
        return None, errors
    return Conditions(**parsed), {}


def _sized(raw: str | list[Any], path: str, most: int, too_long: str, errors: dict[str, str]) -> bool:
    """True when ``raw`` holds 1 to ``most`` items (characters); else False, with the error at ``path``."""
    if not raw:
        errors[path] = "must not be empty (leave the condition out to match everything)"
        return False
    if len(raw) > most:
        errors[path] = too_long
        return False
    return True


def _parse_list(
    key: str, raw: Any, check: Callable[[str], tuple[str | None, str | None]], errors: dict[str, str]
) -> tuple[str, ...] | None:
    path = f"conditions.{key}"
    if not isinstance(raw, list):
        errors[path] = "must be a list of strings"
        return None
    if not _sized(raw, path, LIST_MAX_ITEMS, f"must hold at most {LIST_MAX_ITEMS} items", errors):
        return None
    values: list[str] = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        if not isinstance(item, str):
            errors[item_path] = "must be a string"
            continue
        if len(item) > ITEM_MAX_LENGTH:
            errors[item_path] = f"must be at most {ITEM_MAX_LENGTH} characters"
            continue
        value, problem = check(item)
        if problem is not None or value is None:
            errors[item_path] = problem or "invalid"
        elif value not in values:
            values.append(value)
    return tuple(values)


def _event_type(item: str) -> tuple[str | None, str | None]:
    if item in EVENT_TYPES:
        return item, None
    return None, f"unknown event type {item!r}; expected one of {', '.join(EVENT_TYPES)}"


def _message_type(item: str) -> tuple[str | None, str | None]:
    if item in MESSAGE_TYPES:
        return item, None
    return None, f"unknown message type {item!r}; expected one of {', '.join(MESSAGE_TYPES)}"


def _sender(item: str) -> tuple[str | None, str | None]:
    if is_bsuid(item) or is_parent_bsuid(item) or _BSUID_PREFIX.fullmatch(item):
        return item, None
    value = ascii_digits(_SENDER_NOISE.sub("", item))
    if _SENDER.match(value):
        return value, None
    return None, (
        f"{item!r} is neither a phone number nor a business-scoped user id: expected 1 to 15 digits "
        "(country code first) or a BSUID (two capital letters, a dot, letters or digits), either "
        "optionally ending in * for a prefix, e.g. 6281234567, 628*, US.13491208655302741918 or US.*"
    )


def is_bsuid_pattern(pattern: str) -> bool:
    """Whether a parsed ``senders`` item names BSUIDs (``US.…``) rather than phone numbers."""
    return "." in pattern


def _keyword(item: str) -> tuple[str | None, str | None]:
    if not item.strip():
        return None, "must not be empty"
    return item, None


def _channel_id(item: str) -> tuple[str | None, str | None]:
    if not item.strip():
        return None, "must not be empty"
    return item, None


_LIST_CHECKS: dict[str, Callable[[str], tuple[str | None, str | None]]] = {
    "event_types": _event_type,
    "message_types": _message_type,
    "senders": _sender,
    "keywords": _keyword,
    "channel_ids": _channel_id,
}


def _parse_regex(raw: Any, errors: dict[str, str]) -> str | None:
    path = "conditions.regex"
    if not isinstance(raw, str):
        errors[path] = "must be a string"
        return None
    if not _sized(raw, path, REGEX_MAX_LENGTH, f"must be at most {REGEX_MAX_LENGTH} characters", errors):
        return None
    try:
        compile_regex(raw)
    except (re2.error, UnicodeError) as exc:
        errors[path] = f"invalid RE2 regular expression: {_re2_message(exc)}"
        return None
    return raw


def _re2_message(exc: Exception) -> str:
    if isinstance(exc, UnicodeError):
        return "the pattern is not valid Unicode text"
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail) or "cannot be compiled"
