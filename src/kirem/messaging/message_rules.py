"""Local checks for ``POST /v1/messages`` bodies before they are forwarded to Meta.

Bodies are Meta-compatible: anything Meta's ``/{phone_number_id}/messages`` accepts must pass here, so
only what Meta itself refuses at request time is rejected (neither or both of ``to`` and ``recipient``, a
``recipient`` that is not a BSUID, unknown ``type``, more than 3 reply buttons, more than 10 list rows,
media with neither ``id`` nor ``link``, text over 4096 characters, ...). Values that only Meta can judge
(media ids, template names, the sample numbers of Meta's examples) are left to Meta. An explicit ``null``
is an absent field (:mod:`kirem.kit.nulls`) and fields Kirem does not know are not looked at; the
body is forwarded as the client wrote it.

Every function returns a field-level error dict: dotted paths such as ``"text.body"`` or
``"interactive.action.sections[0].rows"`` mapped to an English sentence. An empty dict means OK.
:func:`meta_error_code` tells which of Meta's codes a refusal is answered with.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from kirem.bsuid import PROBLEM as BSUID_PROBLEM
from kirem.bsuid import is_bsuid, is_parent_bsuid
from kirem.kit.message_types import MEDIA_TYPES
from kirem.kit.nulls import object_body

Errors = dict[str, str]

MESSAGE_TYPES = (
    "text", "template", "image", "video", "audio", "document", "sticker",
    "location", "contacts", "interactive", "reaction",
)  # fmt: skip
INTERACTIVE_TYPES = (
    "button", "list", "cta_url", "product", "product_list", "catalog_message", "flow",
    "location_request_message", "address_message", "order_details", "order_status",
    "call_permission_request", "voice_call",
)  # fmt: skip

MAX_TEXT_BODY = 4096
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
MAX_CAPTION = 1024
MAX_INTERACTIVE_BODY = 1024
MAX_HEADER_TEXT = 60
MAX_FOOTER_TEXT = 60
MAX_REPLY_BUTTONS = 3
MAX_REPLY_ID = 256
MAX_REPLY_TITLE = 20
MAX_LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_LIST_ROWS = 10
MAX_SECTION_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_CTA_DISPLAY_TEXT = 20

MISSING_PARAMETER = 131008
"""Meta's "Required parameter is missing"."""
INVALID_VALUE = 131009
"""Meta's "Parameter value is not valid": a value outside Meta's limits."""
INVALID_PARAMETER = 100
"""Meta's "Invalid parameter": a value of the wrong kind."""
_REQUIRED = " is required"
_OUT_OF_LIMITS = re.compile(r"at most|must be between|must be unique|must not be empty")


def meta_error_code(errors: Errors) -> int:
    """Meta's code for a local refusal: a missing parameter first, then a value out of limits."""
    messages = list(errors.values())
    if any(_REQUIRED in message for message in messages):
        return MISSING_PARAMETER
    if messages and all(_OUT_OF_LIMITS.search(message) for message in messages):
        return INVALID_VALUE
    return INVALID_PARAMETER


def is_http_url(value: object) -> bool:
    """True for an absolute ``http``/``https`` URL with a host and no whitespace."""
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def is_read_receipt(body: object) -> bool:
    """True when ``body`` is a mark-as-read request (Meta sends those to /messages with status "read")."""
    return isinstance(body, dict) and body.get("status") == "read"


@object_body
def validate_read_receipt(body: dict[str, Any]) -> Errors:
    """Check a mark-as-read body: ``message_id``, optional ``status`` "read" and ``typing_indicator``."""
    errors = _check_messaging_product(body)
    if not _nonempty_str(body.get("message_id")):
        errors["message_id"] = "message_id is required and must be a non-empty string"
    if "status" in body and body["status"] != "read":
        errors["status"] = 'status must be "read"'
    if "typing_indicator" in body:
        indicator = body["typing_indicator"]
        if not isinstance(indicator, dict) or indicator.get("type") != "text":
            errors["typing_indicator"] = 'typing_indicator must be an object with type "text"'
    return errors


@object_body
def validate_message(body: dict[str, Any]) -> Errors:
    """Check a send-message body; a body with ``"status": "read"`` is checked as a read receipt."""
    if is_read_receipt(body):
        return validate_read_receipt(body)
    errors = _check_messaging_product(body)
    errors.update(check_addressee(body))
    if "context" in body:
        errors.update(_check_context(body["context"]))
    message_type = message_type_of(body)
    if message_type not in MESSAGE_TYPES:
        errors["type"] = f"type must be one of {', '.join(MESSAGE_TYPES)}, got {message_type!r}"
        return errors
    errors.update(_check_payload(message_type, body.get(message_type)))
    return errors


def check_addressee(body: dict[str, Any]) -> Errors:
    """Exactly one of ``to`` (a phone number) or ``recipient`` (a customer's BSUID, as Meta takes it)."""
    if "recipient" in body:
        if "to" in body:
            return {"recipient": "give either to (a phone number) or recipient (a user id), not both"}
        if not (is_bsuid(body["recipient"]) or is_parent_bsuid(body["recipient"])):
            return {"recipient": f"recipient {BSUID_PROBLEM}"}
        return {}
    if not _nonempty_str(body.get("to")):
        return {
            "to": "to (the customer's phone number) or recipient (their business-scoped user id) is "
            "required and must be a non-empty string"
        }
    return {}


def message_type_of(body: dict[str, Any]) -> object:
    """The message type: ``type`` when given, else the one message object present, else "text".

    Meta defaults a missing ``type`` to "text"; its own "Send Reply to List Message" example omits
    ``type`` next to an ``interactive`` object, so a lone message object decides the type. A
    ``null`` is an absent field here too.
    """
    if body.get("type") is not None:
        return body["type"]
    present = [name for name in MESSAGE_TYPES if body.get(name) is not None]
    return present[0] if len(present) == 1 else "text"


def _check_payload(message_type: str, payload: object) -> Errors:
    if message_type == "contacts":
        return _check_contacts(payload)
    if payload is None:
        return {message_type: f'a "{message_type}" object is required for a {message_type} message'}
    if not isinstance(payload, dict):
        return {message_type: f'"{message_type}" must be an object'}
    if message_type == "text":
        return _check_text(payload)
    if message_type in MEDIA_TYPES:
        return _check_media(message_type, payload)
    checks = {
        "location": _check_location,
        "reaction": _check_reaction,
        "template": _check_template,
        "interactive": _check_interactive,
    }
    return checks[message_type](payload)


def _check_messaging_product(body: dict[str, Any]) -> Errors:
    if "messaging_product" in body and body["messaging_product"] != "whatsapp":
        return {"messaging_product": 'messaging_product must be "whatsapp"'}
    return {}


def _check_context(context: object) -> Errors:
    if not isinstance(context, dict):
        return {"context": "context must be an object with the message_id being replied to"}
    if not _nonempty_str(context.get("message_id")):
        return {"context.message_id": "context.message_id must be the id of the message being replied to"}
    return {}


def _check_text(text: dict[str, Any]) -> Errors:
    return _check_length("text.body", text.get("body"), 1, MAX_TEXT_BODY)


def _check_media(kind: str, media: dict[str, Any]) -> Errors:
    errors: Errors = {}
    has_id, has_link = "id" in media, "link" in media
    if has_id == has_link:
        which = "both" if has_id else "neither"
        errors[kind] = f"{kind} needs exactly one of id (an uploaded media id) or link (a URL), got {which}"
    elif has_id and not _nonempty_str(media["id"]):
        errors[f"{kind}.id"] = f"{kind}.id must be a non-empty string"
    elif has_link and not _nonempty_str(media["link"]):
        errors[f"{kind}.link"] = f"{kind}.link must be a non-empty string"
    if "caption" in media:
        errors.update(_check_length(f"{kind}.caption", media["caption"], 0, MAX_CAPTION))
    return errors


def _check_location(location: dict[str, Any]) -> Errors:
    errors: Errors = {}
    for name, limit in (("latitude", 90.0), ("longitude", 180.0)):
        value = _as_number(location.get(name))
        if value is None:
            errors[f"location.{name}"] = f"location.{name} is required and must be a number"
        elif not -limit <= value <= limit:
            errors[f"location.{name}"] = f"location.{name} must be between {-limit:g} and {limit:g}"
    return errors


def _check_contacts(contacts: object) -> Errors:
    if not isinstance(contacts, list) or not contacts:
        return {"contacts": "contacts must be a non-empty list of contact objects"}
    errors: Errors = {}
    for index, contact in enumerate(contacts):
        path = f"contacts[{index}]"
        if not isinstance(contact, dict):
            errors[path] = f"{path} must be an object"
        elif not isinstance(contact.get("name"), dict):
            errors[f"{path}.name"] = f"{path}.name is required and must be an object with formatted_name"
        elif not _nonempty_str(contact["name"].get("formatted_name")):
            errors[f"{path}.name.formatted_name"] = f"{path}.name.formatted_name is required"
    return errors


def _check_reaction(reaction: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if not _nonempty_str(reaction.get("message_id")):
        errors["reaction.message_id"] = "reaction.message_id must be the id of the message reacted to"
    if not isinstance(reaction.get("emoji"), str):
        errors["reaction.emoji"] = 'reaction.emoji must be a string (use "" to remove a reaction)'
    return errors


def _check_template(template: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if not _nonempty_str(template.get("name")):
        errors["template.name"] = "template.name is required and must be a non-empty string"
    language = template.get("language")
    if not isinstance(language, dict):
        errors["template.language"] = 'template.language must be an object such as {"code": "en_US"}'
    elif not _nonempty_str(language.get("code")):
        errors["template.language.code"] = "template.language.code is required (for example en_US or id)"
    if "components" in template and not isinstance(template["components"], list):
        errors["template.components"] = "template.components must be a list"
    return errors


def _check_interactive(interactive: dict[str, Any]) -> Errors:
    kind = interactive.get("type")
    if kind not in INTERACTIVE_TYPES:
        return {"interactive.type": f"interactive.type must be one of {', '.join(INTERACTIVE_TYPES)}"}
    errors = _check_interactive_texts(interactive, body_required=kind in ("button", "list", "cta_url"))
    if kind in ("button", "list", "cta_url"):
        action = interactive.get("action")
        if not isinstance(action, dict):
            errors["interactive.action"] = f"interactive.action is required for a {kind} message"
        elif kind == "button":
            errors.update(_check_reply_buttons(action.get("buttons")))
        elif kind == "list":
            errors.update(_check_list_action(action))
        else:
            errors.update(_check_cta_url_action(action))
    return errors


def _check_interactive_texts(interactive: dict[str, Any], *, body_required: bool) -> Errors:
    errors: Errors = {}
    parts = (("header", MAX_HEADER_TEXT), ("body", MAX_INTERACTIVE_BODY), ("footer", MAX_FOOTER_TEXT))
    for part, limit in parts:
        path = f"interactive.{part}"
        value = interactive.get(part)
        if value is None:
            if part == "body" and body_required:
                errors[f"{path}.text"] = f"{path}.text is required"
            continue
        if not isinstance(value, dict):
            errors[path] = f"{path} must be an object"
            continue
        needs_text = part != "header" or value.get("type") == "text"
        if needs_text or "text" in value:
            errors.update(_check_length(f"{path}.text", value.get("text"), 1, limit))
    return errors


def _check_reply_buttons(buttons: object) -> Errors:
    path = "interactive.action.buttons"
    if not isinstance(buttons, list) or not buttons:
        return {path: "interactive.action.buttons must be a list of 1 to 3 reply buttons"}
    if len(buttons) > MAX_REPLY_BUTTONS:
        return {path: f"at most {MAX_REPLY_BUTTONS} reply buttons are allowed, got {len(buttons)}"}
    errors: Errors = {}
    for index, button in enumerate(buttons):
        item = f"{path}[{index}]"
        if not isinstance(button, dict):
            errors[item] = f"{item} must be an object"
            continue
        if button.get("type") != "reply":
            errors[f"{item}.type"] = f'{item}.type must be "reply"'
        reply = button.get("reply")
        if not isinstance(reply, dict):
            errors[f"{item}.reply"] = f"{item}.reply must be an object with id and title"
            continue
        errors.update(_check_length(f"{item}.reply.id", reply.get("id"), 1, MAX_REPLY_ID))
        errors.update(_check_length(f"{item}.reply.title", reply.get("title"), 1, MAX_REPLY_TITLE))
    if not errors:
        replies = [button["reply"] for button in buttons]
        errors.update(_check_unique(path, "button ids", [reply["id"] for reply in replies]))
        errors.update(_check_unique(path, "button titles", [reply["title"] for reply in replies]))
    return errors


def _check_list_action(action: dict[str, Any]) -> Errors:
    errors = _check_length("interactive.action.button", action.get("button"), 1, MAX_LIST_BUTTON)
    path = "interactive.action.sections"
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        errors[path] = f"{path} must be a list of 1 to {MAX_SECTIONS} sections"
        return errors
    if len(sections) > MAX_SECTIONS:
        errors[path] = f"at most {MAX_SECTIONS} sections are allowed, got {len(sections)}"
        return errors
    rows: list[object] = []
    for index, section in enumerate(sections):
        errors.update(_check_section(f"{path}[{index}]", section, title_required=len(sections) > 1))
        if isinstance(section, dict) and isinstance(section.get("rows"), list):
            rows.extend(section["rows"])
    if len(rows) > MAX_LIST_ROWS:
        errors[path] = f"at most {MAX_LIST_ROWS} rows are allowed across all sections, got {len(rows)}"
    elif not errors:
        errors.update(_check_unique(path, "row ids", [row["id"] for row in rows if isinstance(row, dict)]))
    return errors


def _check_section(path: str, section: object, *, title_required: bool) -> Errors:
    if not isinstance(section, dict):
        return {path: f"{path} must be an object with title and rows"}
    errors: Errors = {}
    if title_required or "title" in section:
        errors.update(_check_length(f"{path}.title", section.get("title"), 1, MAX_SECTION_TITLE))
    rows = section.get("rows")
    if not isinstance(rows, list) or not rows:
        errors[f"{path}.rows"] = f"{path}.rows must be a non-empty list of rows"
        return errors
    for index, row in enumerate(rows):
        item = f"{path}.rows[{index}]"
        if not isinstance(row, dict):
            errors[item] = f"{item} must be an object with id and title"
            continue
        errors.update(_check_length(f"{item}.id", row.get("id"), 1, MAX_ROW_ID))
        errors.update(_check_length(f"{item}.title", row.get("title"), 1, MAX_ROW_TITLE))
        if "description" in row:
            errors.update(_check_length(f"{item}.description", row["description"], 0, MAX_ROW_DESCRIPTION))
    return errors


def _check_cta_url_action(action: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if action.get("name") != "cta_url":
        errors["interactive.action.name"] = 'interactive.action.name must be "cta_url"'
    parameters = action.get("parameters")
    path = "interactive.action.parameters"
    if not isinstance(parameters, dict):
        errors[path] = f"{path} must be an object with display_text and url"
        return errors
    errors.update(
        _check_length(f"{path}.display_text", parameters.get("display_text"), 1, MAX_CTA_DISPLAY_TEXT)
    )
    if not is_http_url(parameters.get("url")):
        errors[f"{path}.url"] = f"{path}.url must be an http or https URL"
    return errors


def _check_length(path: str, value: object, minimum: int, maximum: int) -> Errors:
    if value is None:
        return {path: f"{path} is required and must be a string"}
    if not isinstance(value, str):
        return {path: f"{path} must be a string, got {type(value).__name__}"}
    if len(value) < minimum or (minimum and not value.strip()):
        return {path: f"{path} must not be empty"}
    if len(value) > maximum:
        return {path: f"{path} must be at most {maximum} characters, got {len(value)}"}
    return {}


def _check_unique(path: str, what: str, values: list[object]) -> Errors:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            return {path: f"{what} must be unique, {value!r} is repeated"}
        seen.add(value)
    return {}


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _as_number(value: object) -> float | None:
    """A finite float from a JSON number or a numeric string (Meta's schema types coordinates as strings)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        return None  # float() would take other scripts' digits and "1_0"; Meta reads plain decimals
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
