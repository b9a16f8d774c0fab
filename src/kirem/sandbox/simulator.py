"""The customer's side: a simulated person sends any inbound message type to a sandbox number.

``POST /v1/inbound`` takes ``{"phone_number_id", "from"?, "user_id"?, "username"?, "profile_name"?,
"message": {"type", <type object>, "context"?: {"id"}, "referral"?}}``. ``from`` is the customer's
phone number; a customer with a ``username`` (or a ``user_id``) and no ``from`` writes phone-less, as
Meta delivers such customers: no ``from`` and no ``wa_id``, only ``from_user_id`` and
``contacts[].user_id`` (and ``contacts[].profile.username``). Every customer has a BSUID: the
``user_id`` given, or the one :mod:`kirem.sandbox.customers` derives. It opens (or refreshes) that
customer's 24 h service window (by number and by BSUID), records the message id so read receipts
for it are accepted, and writes the ``messages`` webhook in Meta's format to the outbox in the same
transaction (see :mod:`kirem.sandbox.outbox`).
Media sent without an ``id`` gets a small generated sample file of the right kind (see
:mod:`kirem.sandbox.samples`), so the business can download it like real media.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.bsuid import PROBLEM as BSUID_PROBLEM
from kirem.bsuid import is_bsuid
from kirem.db.scope import insert_if_absent
from kirem.kit.message_types import INBOUND_TYPES, MEDIA_TYPES
from kirem.phones import ascii_digits
from kirem.sandbox.customers import derived_user_id
from kirem.sandbox.errors import MetaError, invalid_parameter
from kirem.sandbox.ids import new_wamid
from kirem.sandbox.media import store_media
from kirem.sandbox.models import SandboxMedia, SandboxMessage, SandboxNumber, SandboxWindow
from kirem.sandbox.outbox import enqueue
from kirem.sandbox.samples import SAMPLE_FILES, sample_bytes
from kirem.sandbox.webhooks import envelope, metadata

if TYPE_CHECKING:
    from datetime import datetime

    from kirem.sandbox.runtime import SandboxRuntime

INTERACTIVE_REPLIES = ("button_reply", "list_reply", "nfm_reply")
DEFAULT_PROFILE_NAME = "Sandbox Customer"
UNSUPPORTED_ERROR = {
    "code": 131051,
    "title": "Message type unknown",
    "message": "Message type unknown",
    "error_data": {"details": "Message type is currently not supported."},
}
PHONE_NOISE = re.compile(r"[\s+\-()]")
PHONE_DIGITS = re.compile(r"^[0-9]{5,15}$")
USERNAME = re.compile(r"@?[A-Za-z0-9._]{1,35}", re.ASCII)


def bad_field(field: str, problem: str) -> MetaError:
    return invalid_parameter(f"{field}: {problem}")


def object_field(container: dict[str, Any], key: str, field: str, *, required: bool = True) -> dict[str, Any]:
    value = container.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise bad_field(field, "required object" if value is None else "must be an object")
    return value


def string_field(container: dict[str, Any], key: str, field: str, *, required: bool = True) -> str | None:
    value = container.get(key)
    if value is None:
        if required:
            raise bad_field(field, "required")
        return None
    if not isinstance(value, str):
        raise bad_field(field, "must be a string")
    return value


def _number(container: dict[str, Any], key: str, field: str) -> float:
    value = container.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_field(field, "required number")
    return float(value)


@dataclass(frozen=True)
class InboundRequest:
    phone_number_id: str
    wa_id: str | None
    """The customer's phone number; None for a customer who writes with a username and no number."""
    user_id: str | None
    """The BSUID the simulator was given; None: the customer's own (:mod:`kirem.sandbox.customers`)."""
    username: str | None
    profile_name: str
    type: str
    message: dict[str, Any]
    context: dict[str, Any] | None


def parse_inbound(body: Any) -> InboundRequest:
    if not isinstance(body, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    phone_number_id = string_field(body, "phone_number_id", "phone_number_id")
    assert phone_number_id is not None
    sender = string_field(body, "from", "from", required=False)
    user_id = string_field(body, "user_id", "user_id", required=False)
    username = string_field(body, "username", "username", required=False)
    wa_id = None
    if sender is not None:
        wa_id = ascii_digits(PHONE_NOISE.sub("", sender))
        if not PHONE_DIGITS.match(wa_id):
            raise bad_field("from", "must be a phone number of 5 to 15 digits")
    elif user_id is None and username is None:
        raise bad_field("from", "required (or username, or user_id, for a customer without a phone number)")
    if user_id is not None and not is_bsuid(user_id):
        raise bad_field("user_id", BSUID_PROBLEM)
    if username is not None and not USERNAME.fullmatch(username):
        raise bad_field("username", "must be a username: 1 to 35 letters, digits, dots or underscores")
    profile_name = string_field(body, "profile_name", "profile_name", required=False) or DEFAULT_PROFILE_NAME
    message = object_field(body, "message", "message")
    kind = string_field(message, "type", "message.type")
    if kind not in INBOUND_TYPES:
        raise bad_field("message.type", f"must be one of {', '.join(INBOUND_TYPES)}")
    context = message.get("context", body.get("context"))
    if context is not None:
        if not isinstance(context, dict):
            raise bad_field("message.context", "must be an object")
        string_field(context, "id", "message.context.id")
    return InboundRequest(phone_number_id, wa_id, user_id, username, profile_name, kind, message, context)


def checked_body(kind: str, message: dict[str, Any]) -> dict[str, Any] | list[Any] | None:
    """Validate the type object of a non-media inbound message and return what the webhook carries."""
    field = f"message.{kind}"
    if kind == "text":
        text = object_field(message, "text", field)
        return {"body": string_field(text, "body", f"{field}.body")}
    if kind == "location":
        location = object_field(message, "location", field)
        result: dict[str, Any] = {
            "latitude": _number(location, "latitude", f"{field}.latitude"),
            "longitude": _number(location, "longitude", f"{field}.longitude"),
        }
        for key in ("name", "address", "url"):
            if (value := string_field(location, key, f"{field}.{key}", required=False)) is not None:
                result[key] = value
        return result
    if kind == "contacts":
        contacts = message.get("contacts")
        if not isinstance(contacts, list) or not contacts or not all(isinstance(c, dict) for c in contacts):
            raise bad_field(field, "required non-empty list of contact objects")
        return contacts
    if kind == "interactive":
        interactive = object_field(message, "interactive", field)
        reply_type = string_field(interactive, "type", f"{field}.type")
        if reply_type not in INTERACTIVE_REPLIES:
            raise bad_field(f"{field}.type", f"must be one of {', '.join(INTERACTIVE_REPLIES)}")
        reply = object_field(interactive, reply_type, f"{field}.{reply_type}")
        if reply_type == "nfm_reply":
            string_field(reply, "response_json", f"{field}.nfm_reply.response_json")
        else:
            string_field(reply, "id", f"{field}.{reply_type}.id")
            string_field(reply, "title", f"{field}.{reply_type}.title")
            string_field(reply, "description", f"{field}.{reply_type}.description", required=False)
        return {"type": reply_type, reply_type: reply}
    if kind == "button":
        button = object_field(message, "button", field)
        return {
            "payload": string_field(button, "payload", f"{field}.payload"),
            "text": string_field(button, "text", f"{field}.text"),
        }
    if kind == "reaction":
        reaction = object_field(message, "reaction", field)
        return {
            "message_id": string_field(reaction, "message_id", f"{field}.message_id"),
            "emoji": string_field(reaction, "emoji", f"{field}.emoji"),
        }
    if kind == "order":
        order = object_field(message, "order", field)
        string_field(order, "catalog_id", f"{field}.catalog_id")
        items = order.get("product_items")
        if not isinstance(items, list) or not items:
            raise bad_field(f"{field}.product_items", "required non-empty list")
        return order
    if kind == "system":
        system = object_field(message, "system", field)
        string_field(system, "body", f"{field}.body")
        string_field(system, "type", f"{field}.type")
        return system
    return None  # unsupported: no type object


async def media_body(
    session: AsyncSession, runtime: SandboxRuntime, number: SandboxNumber, kind: str, message: dict[str, Any]
) -> dict[str, Any]:
    field = f"message.{kind}"
    given = object_field(message, kind, field, required=False)
    media_id = given.get("id")
    if media_id is not None:
        media = await session.get(SandboxMedia, str(media_id))
        if media is None or media.phone_number_id != number.phone_number_id:
            raise bad_field(f"{field}.id", "no such media for this phone number")
    else:
        mime_type, filename = SAMPLE_FILES[kind]
        media = await store_media(
            session,
            phone_number_id=number.phone_number_id,
            data=sample_bytes(kind),
            mime_type=mime_type,
            filename=filename,
            now=runtime.now(),
        )
    result: dict[str, Any] = {}
    if kind in ("image", "video", "document") and (
        caption := string_field(given, "caption", f"{field}.caption", required=False)
    ):
        result["caption"] = caption
    if kind == "document":
        result["filename"] = (
            string_field(given, "filename", f"{field}.filename", required=False)
            or media.filename
            or "document"
        )
    result["mime_type"] = media.mime_type
    result["sha256"] = base64.b64encode(bytes.fromhex(media.sha256)).decode()
    result["id"] = media.id
    if kind == "audio":
        result["voice"] = bool(given.get("voice", False))
    if kind == "sticker":
        result["animated"] = bool(given.get("animated", False))
    return result


async def _open_window(session: AsyncSession, phone_number_id: str, wa_id: str, now: datetime) -> None:
    """Open or refresh the window without a savepoint (which on SQLite would commit it on its own)."""
    await insert_if_absent(
        session, SandboxWindow, phone_number_id=phone_number_id, wa_id=wa_id, last_inbound_at=now
    )
    await session.execute(
        update(SandboxWindow)
        .where(
            SandboxWindow.phone_number_id == phone_number_id,
            SandboxWindow.wa_id == wa_id,
            SandboxWindow.last_inbound_at < now,
        )
        .values(last_inbound_at=now)
        .execution_options(synchronize_session=False)
    )


def contact_entry(request: InboundRequest, user_id: str) -> dict[str, Any]:
    """``contacts[]`` as Meta sends it: ``wa_id`` only when the customer's number is known."""
    profile: dict[str, Any] = {"name": request.profile_name}
    if request.username:
        profile["username"] = request.username
    contact: dict[str, Any] = {"profile": profile}
    if request.wa_id:
        contact["wa_id"] = request.wa_id
    contact["user_id"] = user_id
    return contact


def message_record(
    number: SandboxNumber, wamid: str, wa_id: str, kind: str, now: datetime, *, outbound: bool
) -> dict[str, Any]:
    """The values of the record of a message id the sandbox issued (see :func:`issued_message`)."""
    return {
        "wamid": wamid,
        "phone_number_id": number.phone_number_id,
        "direction": "out" if outbound else "in",
        "wa_id": wa_id,
        "type": kind,
        "created_at": now,
    }


def issued_message(
    number: SandboxNumber, wamid: str, wa_id: str, kind: str, now: datetime, *, outbound: bool
) -> SandboxMessage:
    """The record of a message id the sandbox issued, which later read receipts are checked against."""
    return SandboxMessage(**message_record(number, wamid, wa_id, kind, now, outbound=outbound))


def conversation_lane(phone_number_id: str, wa_id: str) -> str:
    """The outbox lane of one conversation's messages and echoes: they reach Kirem in order."""
    return f"{phone_number_id}:{wa_id}"


async def receive_inbound(session: AsyncSession, runtime: SandboxRuntime, body: Any) -> str:
    """Record a simulated inbound message and owe Kirem its webhook; returns its wamid."""
    request = parse_inbound(body)
    number = await session.get(SandboxNumber, request.phone_number_id)
    if number is None:
        raise invalid_parameter(
            f"phone_number_id: no sandbox phone number {request.phone_number_id!r}", status_code=404
        )
    now = runtime.now()
    user_id = request.user_id or derived_user_id(
        number.waba_id, wa_id=request.wa_id, username=request.username
    )
    customer = request.wa_id or user_id
    if request.type in MEDIA_TYPES:
        type_body: Any = await media_body(session, runtime, number, request.type, request.message)
    else:
        type_body = checked_body(request.type, request.message)

    wamid = new_wamid(customer, inbound=True)
    message: dict[str, Any] = {}
    if request.context is not None:
        context = {"from": number.display_phone_number, "id": request.context["id"]}
        if isinstance(request.context.get("referred_product"), dict):
            context["referred_product"] = request.context["referred_product"]
        message["context"] = context
    if request.wa_id:
        message["from"] = request.wa_id
    message.update({"from_user_id": user_id, "id": wamid, "timestamp": str(int(now.timestamp()))})
    if request.type == "text" and isinstance(request.message.get("referral"), dict):
        message["referral"] = request.message["referral"]
    if request.type == "unsupported":
        message["errors"] = [UNSUPPORTED_ERROR]
    else:
        message[request.type] = type_body
    message["type"] = request.type

    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": metadata(number)}
    if request.type != "system":
        value["contacts"] = [contact_entry(request, user_id)]
    value["messages"] = [message]

    if request.type != "system":  # a system notice is not the customer writing
        for key in (request.wa_id, user_id):  # a send may name the customer either way
            if key:
                await _open_window(session, number.phone_number_id, key, now)
    session.add(issued_message(number, wamid, customer, request.type, now, outbound=False))
    enqueue(
        session,
        lane=conversation_lane(number.phone_number_id, customer),
        payload=envelope(number.waba_id, value),
        now=now,
    )
    return wamid
