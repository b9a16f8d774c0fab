"""Sending messages: Meta's synchronous checks, then the asynchronous ``statuses`` webhooks.

An accepted message gets ``sent``, ``delivered`` and ``read`` status webhooks, due
``sandbox_status_delay_seconds`` after the send and after each other, or a single ``failed`` status
due after one delay. They are written to the outbox with the message (:mod:`kirem.sandbox.outbox`),
in one lane per message, so they reach Kirem in that order even across retries and restarts:

* **131026 Message undeliverable** when the recipient is a documented undeliverable test number:
  every number whose digits start with ``999`` (:data:`UNDELIVERABLE_PREFIX`), e.g. ``99900000001``.
  ``999`` is not a country calling code, so no real number is affected.
* **131047 Re-engagement message** when the message is free-form (any type but ``template``) and
  the customer has not written to this number in the last 24 hours (see the simulator); a send to a
  BSUID (``recipient``) is in the window when the customer with that BSUID wrote.

A send names the customer by phone number (``to``) or by business-scoped user id (``recipient``);
every status carries the customer's ``recipient_user_id``, and ``recipient_id`` only when the send
named a phone number.

Bodies the sandbox does not model in depth (flows, catalogs, order details, …) are accepted as long
as Meta's required fields are present. As at Meta, an explicit ``null`` is an absent field and fields
the sandbox does not know are ignored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.bsuid import PROBLEM as BSUID_PROBLEM
from kirem.bsuid import is_bsuid, is_parent_bsuid
from kirem.kit.message_types import MEDIA_TYPES
from kirem.kit.nulls import without_nulls
from kirem.phones import ascii_digits
from kirem.sandbox.customers import derived_user_id
from kirem.sandbox.errors import (
    ERROR_CODES_DOCS,
    MetaError,
    invalid_parameter,
    not_one_of,
    rate_limit_hit,
    required_parameter,
)
from kirem.sandbox.ids import new_wamid
from kirem.sandbox.models import SandboxMedia, SandboxMessage, SandboxNumber
from kirem.sandbox.outbox import outbox_row
from kirem.sandbox.simulator import message_record
from kirem.sandbox.templates import check_send_parameters, find_for_send
from kirem.sandbox.webhooks import envelope, metadata

if TYPE_CHECKING:
    from kirem.sandbox.runtime import SandboxRuntime

UNDELIVERABLE_PREFIX = "999"
"""Recipients whose digits start with this get a ``failed`` status with error 131026."""
SERVICE_WINDOW = timedelta(hours=24)
SEND_TYPES = (
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
)
TEXT_MAX_LENGTH = 4096
_PHONE_NOISE = re.compile(r"[\s+\-()]")
_PHONE_DIGITS = re.compile(r"^[0-9]{5,15}$")

UNDELIVERABLE_ERROR = {
    "code": 131026,
    "title": "Message undeliverable",
    "message": "Message undeliverable",
    "error_data": {"details": "Message Undeliverable."},
    "href": ERROR_CODES_DOCS,
}
REENGAGEMENT_ERROR = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {
        "details": "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number."
    },
    "href": ERROR_CODES_DOCS,
}


def is_undeliverable(wa_id: str) -> bool:
    return wa_id.startswith(UNDELIVERABLE_PREFIX)


def recipient_wa_id(to: Any) -> str:
    """The digits of ``to`` (5 to 15 after dropping ``+``, spaces, dashes and parentheses)."""
    digits = ascii_digits(_PHONE_NOISE.sub("", to)) if isinstance(to, str) else ""
    if not _PHONE_DIGITS.match(digits):
        raise invalid_parameter(
            f"Invalid parameter 'to': {to!r} is not a phone number (5 to 15 digits, optionally with +, "
            "spaces, dashes or parentheses)."
        )
    return digits


def _object(body: dict[str, Any], key: str, path: str | None = None) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        raise required_parameter(path or key)
    if not isinstance(value, dict):
        raise invalid_parameter(f"Param {path or key} must be a JSON object.")
    return value


def _string(obj: dict[str, Any], key: str, path: str, *, allow_empty: bool = False) -> str:
    value = obj.get(key)
    if value is None or (value == "" and not allow_empty):
        raise required_parameter(path)
    if not isinstance(value, str):
        raise invalid_parameter(f"Param {path} must be a string.")
    return value


def _check_messaging_product(body: dict[str, Any]) -> None:
    product = body.get("messaging_product")
    if product is None:
        raise required_parameter("messaging_product")
    if not isinstance(product, str) or product.lower() != "whatsapp":
        raise not_one_of("messaging_product", ["WHATSAPP"], product)


@dataclass(frozen=True)
class MediaRef:
    path: str
    obj: dict[str, Any]
    required: bool


@dataclass(frozen=True)
class SendRequest:
    to: str | None
    """The phone number as given, or None for a send to a BSUID (``recipient``)."""
    wa_id: str | None
    user_id: str | None
    """The ``recipient`` BSUID as given; None for a send to a phone number."""
    type: str
    body: dict[str, Any]
    media: tuple[MediaRef, ...]


def _check_text(body: dict[str, Any]) -> list[MediaRef]:
    text = _object(body, "text", "text['body']")
    value = _string(text, "body", "text['body']")
    if len(value) > TEXT_MAX_LENGTH:
        raise MetaError(
            400, 100, f"(#100) Param text['body'] must be at most {TEXT_MAX_LENGTH} characters long."
        )
    return []


def _check_location(body: dict[str, Any]) -> list[MediaRef]:
    location = _object(body, "location")
    for key in ("latitude", "longitude"):
        value = location.get(key)
        if value is None:
            raise required_parameter(f"location['{key}']")
        try:
            float(value)
        except (TypeError, ValueError):
            raise invalid_parameter(f"Param location['{key}'] must be a number.") from None
    return []


def _check_contacts(body: dict[str, Any]) -> list[MediaRef]:
    contacts = body.get("contacts")
    if not contacts:
        raise required_parameter("contacts")
    if not isinstance(contacts, list) or not all(isinstance(c, dict) for c in contacts):
        raise invalid_parameter("Param contacts must be a list of contact objects.")
    for index, contact in enumerate(contacts):
        name = contact.get("name")
        if not isinstance(name, dict) or not name.get("formatted_name"):
            raise required_parameter(f"contacts[{index}]['name']['formatted_name']")
    return []


def _check_interactive(body: dict[str, Any]) -> list[MediaRef]:
    interactive = _object(body, "interactive")
    _string(interactive, "type", "interactive['type']")
    header = interactive.get("header")
    if isinstance(header, dict) and header.get("type") in MEDIA_TYPES:
        header_media = header.get(header["type"])
        if isinstance(header_media, dict):
            return [MediaRef(f"interactive['header']['{header['type']}']", header_media, required=True)]
    return []


def _check_reaction(body: dict[str, Any]) -> list[MediaRef]:
    reaction = _object(body, "reaction")
    _string(reaction, "message_id", "reaction['message_id']")
    _string(reaction, "emoji", "reaction['emoji']", allow_empty=True)
    return []


def _check_template(body: dict[str, Any]) -> list[MediaRef]:
    template = _object(body, "template")
    _string(template, "name", "template['name']")
    language = _object(template, "language", "template['language']")
    _string(language, "code", "template['language']['code']")
    components = template.get("components")
    if components is not None and not isinstance(components, list):
        raise invalid_parameter("Param template['components'] must be a list.")
    media = []
    for component in components or []:
        if not isinstance(component, dict):
            raise invalid_parameter("Param template['components'] must be a list of objects.")
        parameters = component.get("parameters")
        for parameter in parameters if isinstance(parameters, list) else []:
            if isinstance(parameter, dict) and parameter.get("type") in MEDIA_TYPES:
                value = parameter.get(parameter["type"])
                if isinstance(value, dict):
                    path = f"template {component.get('type')} {parameter['type']}"
                    media.append(MediaRef(path, value, required=True))
    return media


def _check_media_object(kind: str) -> Callable[[dict[str, Any]], list[MediaRef]]:
    def check(body: dict[str, Any]) -> list[MediaRef]:
        return [MediaRef(kind, _object(body, kind), required=True)]

    return check


_CHECKS: dict[str, Callable[[dict[str, Any]], list[MediaRef]]] = {
    "text": _check_text,
    "location": _check_location,
    "contacts": _check_contacts,
    "interactive": _check_interactive,
    "reaction": _check_reaction,
    "template": _check_template,
    **{kind: _check_media_object(kind) for kind in MEDIA_TYPES},
}


def parse_send(body: dict[str, Any]) -> SendRequest:
    """Meta's synchronous validation of a send body, as far as it needs no database."""
    _check_messaging_product(body)
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type == "group":
        raise invalid_parameter("The sandbox has no groups: recipient_type 'group' cannot be delivered.")
    if recipient_type != "individual":
        raise not_one_of("recipient_type", ["INDIVIDUAL", "GROUP"], recipient_type)
    to, user_id, wa_id = body.get("to"), body.get("recipient"), None
    if to is not None and user_id is not None:
        raise invalid_parameter("Invalid parameter: give either 'to' or 'recipient', not both.")
    if user_id is not None:
        if not (is_bsuid(user_id) or is_parent_bsuid(user_id)):
            raise invalid_parameter(f"Invalid parameter 'recipient': {BSUID_PROBLEM}.")
    elif to is None or to == "":
        raise required_parameter("to")
    else:
        wa_id = recipient_wa_id(to)
    kind = body.get("type", "text")
    if not isinstance(kind, str) or kind not in SEND_TYPES:
        raise not_one_of("type", [t.upper() for t in SEND_TYPES], kind)
    media = _CHECKS[kind](body)
    return SendRequest(to=to, wa_id=wa_id, user_id=user_id, type=kind, body=body, media=tuple(media))


def _valid_link(link: Any) -> bool:
    if not isinstance(link, str):
        return False
    parts = urlsplit(link.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def _check_media(session: AsyncSession, number: SandboxNumber, refs: tuple[MediaRef, ...]) -> None:
    for ref in refs:
        media_id, link = ref.obj.get("id"), ref.obj.get("link")
        if media_id is not None and link is not None:
            raise invalid_parameter(f"Param {ref.path} must have either 'id' or 'link', not both.")
        if media_id is not None:
            media = await session.get(SandboxMedia, str(media_id))
            if media is None or media.phone_number_id != number.phone_number_id:
                raise invalid_parameter(
                    f"Param {ref.path}['id'] is not a valid media id for this phone number: {media_id!r}."
                )
        elif link is not None:
            if not _valid_link(link):
                raise invalid_parameter(
                    f"Param {ref.path}['link'] must be an http or https URL, got {link!r}."
                )
        elif ref.required:
            raise required_parameter(f"{ref.path}['id'] or {ref.path}['link']")


@dataclass(frozen=True)
class DeliveryPlan:
    """What the status webhooks of one accepted message will say."""

    waba_id: str
    metadata: dict[str, str]
    wamid: str
    wa_id: str | None
    """The customer's phone number; None for a send to a BSUID (its statuses carry no ``recipient_id``)."""
    category: str
    """``service`` for free-form messages, else the template's category in lower case."""
    conversation_id: str
    user_id: str | None
    """The customer's BSUID, carried by every status as ``recipient_user_id``."""
    undeliverable: bool
    in_window: bool
    """Whether the customer wrote to the number in the 24 hours before the send."""

    @property
    def error(self) -> dict[str, Any] | None:
        if self.undeliverable:
            return UNDELIVERABLE_ERROR
        if self.category == "service" and not self.in_window:
            return REENGAGEMENT_ERROR
        return None

    @property
    def billable(self) -> bool:
        return self.category in ("marketing", "authentication") or (
            self.category == "utility" and not self.in_window
        )


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether a customer whose last message came at ``last_inbound_at`` is in the window at ``now``."""
    return last_inbound_at is not None and last_inbound_at > now - SERVICE_WINDOW


@dataclass(frozen=True)
class IssuedSend:
    """An accepted send as :class:`~kirem.sandbox.send_log.SendLog` records it: its message record
    and its statuses, which depend on the customer's 24-hour window, read with the sends beside it."""

    message: dict[str, Any]
    plan: DeliveryPlan
    now: datetime
    delay: float

    @property
    def window_key(self) -> tuple[str, str]:
        """The ``sandbox_windows`` row of the customer: ``(phone_number_id, wa_id)``."""
        return self.message["phone_number_id"], self.message["wa_id"]

    def outbox_rows(self, last_inbound_at: datetime | None) -> list[dict[str, Any]]:
        """The status rows, the customer's last message having come at ``last_inbound_at``."""
        plan = replace(self.plan, in_window=window_open(last_inbound_at, self.now))
        return status_rows(plan, self.now, self.delay)


@dataclass(frozen=True)
class AcceptedSend:
    """Meta's answer to a send and the rows that record it (:class:`~kirem.sandbox.send_log.SendLog`
    writes them; the answer may go out once they are committed)."""

    answer: dict[str, Any]
    issued: IssuedSend


async def accept_send(
    session: AsyncSession, runtime: SandboxRuntime, number: SandboxNumber, body: dict[str, Any]
) -> AcceptedSend:
    """Validate a send; its answer and what records it and owes Kirem its status webhooks.

    ``session`` reads what the cache does not hold (and finishes the WABA's due template reviews);
    the caller commits it, then records the send with ``runtime.send_log``, where the customer's
    window is read and the send written with the sends in flight beside it, and answers."""
    body = without_nulls(body)
    now = runtime.now()
    if not runtime.throughput.allow(number.phone_number_id, now.timestamp()):
        raise rate_limit_hit()
    request = parse_send(body)
    category = "service"
    if request.type == "template":
        template_body = body["template"]
        template = await find_for_send(
            session,
            now,
            waba_id=number.waba_id,
            name=template_body["name"],
            language=template_body["language"]["code"],
            cache=runtime.lookups.templates,
        )
        check_send_parameters(template, template_body.get("components"))
        category = template.category.lower()
    await _check_media(session, number, request.media)

    customer = request.wa_id or request.user_id
    assert customer is not None
    wamid = new_wamid(customer, inbound=False)
    message: dict[str, Any] = {"id": wamid}
    if request.type == "template":
        message["message_status"] = "accepted"
    answer = {
        "messaging_product": "whatsapp",
        "contacts": [
            {"input": request.to, "wa_id": request.wa_id}
            if request.wa_id
            else {"input": request.user_id, "user_id": request.user_id}
        ],
        "messages": [message],
    }
    plan = DeliveryPlan(
        waba_id=number.waba_id,
        metadata=metadata(number),
        wamid=wamid,
        wa_id=request.wa_id,
        user_id=request.user_id or derived_user_id(number.waba_id, wa_id=request.wa_id),
        category=category,
        conversation_id=secrets.token_hex(16),
        undeliverable=bool(request.wa_id and is_undeliverable(request.wa_id)),
        in_window=False,
    )
    issued = IssuedSend(
        message=message_record(number, wamid, customer, request.type, now, outbound=True),
        plan=plan,
        now=now,
        delay=runtime.settings.sandbox_status_delay_seconds,
    )
    return AcceptedSend(answer=answer, issued=issued)


async def mark_read(session: AsyncSession, number: SandboxNumber, body: dict[str, Any]) -> dict[str, Any]:
    """A read receipt (with an optional typing indicator) for a message the customer sent."""
    body = without_nulls(body)
    _check_messaging_product(body)
    message_id = body.get("message_id")
    if not message_id:
        raise required_parameter("message_id")
    indicator = body.get("typing_indicator")
    if indicator is not None and (not isinstance(indicator, dict) or indicator.get("type") != "text"):
        raise not_one_of("typing_indicator['type']", ["TEXT"], indicator)
    found = await session.scalar(
        select(SandboxMessage.wamid).where(
            SandboxMessage.wamid == str(message_id),
            SandboxMessage.phone_number_id == number.phone_number_id,
            SandboxMessage.direction == "in",
        )
    )
    if found is None:
        raise invalid_parameter(f"Message {message_id!r} is not a message this phone number received.")
    return {"success": True}


def status_payload(plan: DeliveryPlan, status: str, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": plan.wamid,
        "status": status,
        "timestamp": str(int(now.timestamp())),
    }
    if plan.wa_id:
        entry["recipient_id"] = plan.wa_id
    if plan.user_id:
        entry["recipient_user_id"] = plan.user_id
    if status == "failed":
        entry["errors"] = [plan.error]
    else:
        conversation: dict[str, Any] = {"id": plan.conversation_id}
        if status == "sent":
            conversation["expiration_timestamp"] = str(int((now + SERVICE_WINDOW).timestamp()))
        conversation["origin"] = {"type": plan.category}
        entry["conversation"] = conversation
        entry["pricing"] = {"billable": plan.billable, "pricing_model": "PMP", "category": plan.category}
    value = {"messaging_product": "whatsapp", "metadata": plan.metadata, "statuses": [entry]}
    return envelope(plan.waba_id, value)


def status_rows(plan: DeliveryPlan, now: datetime, delay: float) -> list[dict[str, Any]]:
    """The outbox rows owing Kirem the message's statuses, in one lane, the k-th due ``k * delay``
    seconds after ``now``."""
    statuses = ("failed",) if plan.error else ("sent", "delivered", "read")
    lane = f"status:{plan.wamid}"
    rows = []
    for step, status in enumerate(statuses, start=1):
        due_at = now + timedelta(seconds=step * delay)
        payload = status_payload(plan, status, due_at)
        rows.append(outbox_row(lane=lane, payload=payload, now=now, due_at=due_at))
    return rows
