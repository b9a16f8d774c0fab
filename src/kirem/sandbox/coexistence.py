"""The owner's side under coexistence: the WhatsApp Business app still in use on a Cloud API number.

A number onboarded with Meta's coexistence makes Meta post three more webhook fields; the sandbox
posts them in Meta's format, signed, ordered and durable like every other sandbox webhook:

* ``POST /v1/echo`` → ``smb_message_echoes``: a message the owner sent from the phone app.
  ``{"phone_number_id", "to", "message": {"type", <type object>}}``; ``message`` takes the types
  the phone app sends (:data:`ECHO_TYPES`), validated and shaped like the customer simulator's
  (media without an ``id`` gets a sample file). The wamid is recorded as an outbound message; an
  echo does **not** open the customer's 24 h window (only the customer writing does).
* ``POST /v1/history`` → ``history``: one chunk of the chat history shared at onboarding.
  ``{"phone_number_id", "phase"?: 0, "chunk_order"?: 1, "progress"?: 100, "threads": [{"id":
  <wa_id>, "messages": [{"from"?: "customer" | "business" | <number>, "text": "…" | <a message
  object with "type">, "id"?, "timestamp"?, "status"? | "history_context"?: {"status"}}]}]}``.
  Missing ids are generated; missing timestamps are derived from the number's provisioning time
  (:func:`default_timestamp`), and media without an ``id`` reuses the number's sample file, so
  re-posting a chunk that names its ids gives a byte-identical webhook (Kirem's duplicate handling
  can be tested with it).
* ``POST /v1/contacts`` → ``smb_app_state_sync``: contacts added to or removed from the phone.
  ``{"phone_number_id", "contacts": [{"phone_number", "full_name"?, "first_name"?, "action"?:
  "add" | "remove"}]}``; an ``add`` needs a name, a ``remove`` carries only the number (as Meta's).

Every customer in them carries their BSUID (:mod:`kirem.sandbox.customers`): an echo's
``to_user_id``, a history message's ``from_user_id`` (or ``to_user_id`` when the business sent it),
a synced contact's ``user_id``.

Each function validates the body (HTTP 400, Meta's error body naming the field), finds the number
(404 when unknown), writes the webhook to the outbox in the caller's transaction and returns the answer.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.scope import insert_if_absent
from kirem.kit.message_types import MEDIA_TYPES
from kirem.phones import ascii_digits, is_ascii_number
from kirem.sandbox.customers import derived_user_id
from kirem.sandbox.errors import MetaError, invalid_parameter
from kirem.sandbox.ids import new_wamid
from kirem.sandbox.models import SandboxMedia, SandboxMessage, SandboxNumber
from kirem.sandbox.outbox import enqueue
from kirem.sandbox.samples import SAMPLE_FILES, sample_bytes
from kirem.sandbox.simulator import (
    PHONE_DIGITS,
    PHONE_NOISE,
    bad_field,
    checked_body,
    conversation_lane,
    issued_message,
    media_body,
    object_field,
    string_field,
)
from kirem.sandbox.webhooks import envelope, metadata

if TYPE_CHECKING:
    from kirem.sandbox.runtime import SandboxRuntime

ECHO_FIELD = "smb_message_echoes"
HISTORY_FIELD = "history"
STATE_SYNC_FIELD = "smb_app_state_sync"

ECHO_TYPES = ("text", *MEDIA_TYPES, "location", "contacts", "reaction")
"""What the WhatsApp Business app sends (it has no interactive or template messages)."""
HISTORY_STATUSES = ("DELIVERED", "ERROR", "PENDING", "PLAYED", "READ", "SENT")
DEFAULT_HISTORY_STATUS = "READ"
PHASES = (0, 1, 2)
PHASE_START = {0: timedelta(0), 1: timedelta(days=1), 2: timedelta(days=90)}
"""How long before onboarding each history phase starts (phase 0: day 0-1, 1: day 1-90, 2: day 90-180)."""
CONTACT_ACTIONS = ("add", "remove")
CUSTOMER, BUSINESS = "customer", "business"
WAMID_MAX_LENGTH = 128

Answer = dict[str, Any]


# --- validation helpers -----------------------------------------------------------------------------


def _body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    return body


def _phone(container: dict[str, Any], key: str, field: str) -> str:
    value = string_field(container, key, field)
    assert value is not None
    digits = ascii_digits(PHONE_NOISE.sub("", value))
    if not PHONE_DIGITS.match(digits):
        raise bad_field(field, "must be a phone number of 5 to 15 digits")
    return digits


def _int(container: dict[str, Any], key: str, default: int, low: int, high: int | None) -> int:
    value = container.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_field(key, "must be an integer")
    if value < low or (high is not None and value > high):
        raise bad_field(
            key, f"must be from {low} to {high}" if high is not None else f"must be at least {low}"
        )
    return value


def _objects(container: dict[str, Any], key: str, field: str) -> list[dict[str, Any]]:
    value = container.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(item, dict) for item in value):
        raise bad_field(field, "required non-empty list of objects")
    return value


def _epoch(dt: datetime) -> str:
    return str(int(dt.timestamp()))


async def _sandbox_number(session: AsyncSession, phone_number_id: str) -> SandboxNumber:
    number = await session.get(SandboxNumber, phone_number_id)
    if number is None:
        raise invalid_parameter(
            f"phone_number_id: no sandbox phone number {phone_number_id!r}", status_code=404
        )
    return number


def _check_type(message: dict[str, Any], prefix: str) -> str:
    kind = string_field(message, "type", f"{prefix}.type")
    if kind not in ECHO_TYPES:
        raise bad_field(f"{prefix}.type", f"must be one of {', '.join(ECHO_TYPES)}")
    return kind


async def _sample_media_id(session: AsyncSession, number: SandboxNumber, kind: str) -> str | None:
    """The number's stored sample file of this kind, if any (so a re-posted chunk names the same id)."""
    mime_type, _ = SAMPLE_FILES[kind]
    digest = hashlib.sha256(sample_bytes(kind)).hexdigest()
    found = await session.scalar(
        select(SandboxMedia.id)
        .where(
            SandboxMedia.phone_number_id == number.phone_number_id,
            SandboxMedia.sha256 == digest,
            SandboxMedia.mime_type == mime_type,
        )
        .order_by(SandboxMedia.created_at, SandboxMedia.id)
        .limit(1)
    )
    return str(found) if found is not None else None


async def _type_body(
    session: AsyncSession,
    runtime: SandboxRuntime,
    number: SandboxNumber,
    message: dict[str, Any],
    prefix: str,
    *,
    reuse_sample: bool = False,
) -> tuple[str, Any]:
    """Validate a message object (``type`` + its type object) and return what the webhook carries.

    Errors name the field under ``prefix`` (the simulator's checks name it under ``message``).
    """
    kind = _check_type(message, prefix)
    try:
        if kind in MEDIA_TYPES:
            given = message.get(kind)
            given = {} if given is None else given
            if reuse_sample and isinstance(given, dict) and given.get("id") is None:
                sample_id = await _sample_media_id(session, number, kind)
                if sample_id is not None:
                    message = {**message, kind: {**given, "id": sample_id}}
            return kind, await media_body(session, runtime, number, kind, message)
        return kind, checked_body(kind, message)
    except MetaError as exc:
        if prefix == "message" or not (exc.details or "").startswith("message."):
            raise
        raise invalid_parameter(prefix + (exc.details or "")[len("message") :]) from None


# --- smb_message_echoes -------------------------------------------------------------------------------


async def receive_echo(session: AsyncSession, runtime: SandboxRuntime, body: Any) -> Answer:
    """Record a message the owner sent from the phone app and owe Kirem its webhook."""
    body = _body_object(body)
    phone_number_id = string_field(body, "phone_number_id", "phone_number_id")
    assert phone_number_id is not None
    wa_id = _phone(body, "to", "to")
    message = object_field(body, "message", "message")
    _check_type(message, "message")
    number = await _sandbox_number(session, phone_number_id)
    kind, type_body = await _type_body(session, runtime, number, message, "message")

    now = runtime.now()
    wamid = new_wamid(wa_id, inbound=False)
    echo = {
        "from": number.display_phone_number,
        "to": wa_id,
        "to_user_id": derived_user_id(number.waba_id, wa_id=wa_id),
        "id": wamid,
        "timestamp": _epoch(now),
        "type": kind,
        kind: type_body,
    }
    value = {"messaging_product": "whatsapp", "metadata": metadata(number), "message_echoes": [echo]}
    session.add(issued_message(number, wamid, wa_id, kind, now, outbound=True))
    # Same lane as the customer's messages: a conversation's webhooks keep their order.
    enqueue(
        session,
        lane=conversation_lane(number.phone_number_id, wa_id),
        payload=envelope(number.waba_id, value, field=ECHO_FIELD),
        now=now,
    )
    return {"wamid": wamid}


# --- history ------------------------------------------------------------------------------------------


def default_timestamp(onboarded_at: datetime, phase: int, chunk_order: int, position: int) -> datetime:
    """When a history message without ``timestamp`` was sent: fixed by the chunk, never by the clock.

    Inside its phase, ``chunk_order`` hours before the phase starts (counting back from the number's
    provisioning, i.e. its onboarding), then one minute per message of the thread.
    """
    return onboarded_at - PHASE_START[phase] - timedelta(hours=chunk_order) + timedelta(minutes=position)


def _history_sender(item: dict[str, Any], field: str, wa_id: str, number: SandboxNumber) -> bool:
    """True when the business sent the message, False when the customer did."""
    sender = item.get("from", CUSTOMER)
    if not isinstance(sender, str):
        raise bad_field(field, "must be a string")
    if sender in (CUSTOMER, BUSINESS):
        return sender == BUSINESS
    digits = PHONE_NOISE.sub("", sender)
    if digits == number.display_phone_number:
        return True
    if digits == wa_id:
        return False
    raise bad_field(field, "must be 'customer', 'business', the thread's id or the business's display number")


def _history_id(item: dict[str, Any], field: str) -> str | None:
    wamid = item.get("id")
    if wamid is None:
        return None
    if not isinstance(wamid, str) or not wamid.startswith("wamid.") or len(wamid) > WAMID_MAX_LENGTH:
        raise bad_field(
            field, f"must be a message id starting with 'wamid.' (at most {WAMID_MAX_LENGTH} chars)"
        )
    return wamid


def _history_timestamp(item: dict[str, Any], field: str) -> str | None:
    value = item.get("timestamp")
    if value is None:
        return None
    if isinstance(value, str) and is_ascii_number(value) and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_field(field, "must be a Unix time in seconds")
    return str(value)


def _history_status(item: dict[str, Any], field: str) -> str:
    context = item.get("history_context")
    if context is not None:
        if not isinstance(context, dict):
            raise bad_field(f"{field}.history_context", "must be an object")
        status, where = context.get("status"), f"{field}.history_context.status"
    else:
        status, where = item.get("status"), f"{field}.status"
    if status is None:
        return DEFAULT_HISTORY_STATUS
    if not isinstance(status, str) or status.upper() not in HISTORY_STATUSES:
        raise bad_field(where, f"must be one of {', '.join(HISTORY_STATUSES)}")
    return status.upper()


async def _history_content(
    session: AsyncSession, runtime: SandboxRuntime, number: SandboxNumber, item: dict[str, Any], field: str
) -> tuple[str, Any]:
    """``"text": "…"`` is a text message, else the item is a message object (``type`` defaults to text)."""
    if "type" not in item and isinstance(item.get("text"), str):
        return "text", {"body": item["text"]}
    if "type" not in item and "text" not in item:
        raise bad_field(f"{field}.text", "required (a string, or give a whole message object with its type)")
    return await _type_body(session, runtime, number, {"type": "text", **item}, field, reuse_sample=True)


async def _record_history(session: AsyncSession, rows: list[SandboxMessage]) -> None:
    """Remember the chunk's wamids (read receipts for them are accepted); known ids stay as they are.

    ``ON CONFLICT DO NOTHING`` rather than a savepoint, which on SQLite would commit on its own.
    """
    for row in rows:
        await insert_if_absent(
            session,
            SandboxMessage,
            wamid=row.wamid,
            phone_number_id=row.phone_number_id,
            direction=row.direction,
            wa_id=row.wa_id,
            type=row.type,
            created_at=row.created_at,
        )


async def receive_history(session: AsyncSession, runtime: SandboxRuntime, body: Any) -> Answer:
    """Build one ``history`` chunk and owe Kirem its webhook."""
    body = _body_object(body)
    phone_number_id = string_field(body, "phone_number_id", "phone_number_id")
    assert phone_number_id is not None
    phase = _int(body, "phase", 0, PHASES[0], PHASES[-1])
    chunk_order = _int(body, "chunk_order", 1, 1, None)
    progress = _int(body, "progress", 100, 0, 100)
    threads = _objects(body, "threads", "threads")
    for index, thread in enumerate(threads):
        _phone(thread, "id", f"threads[{index}].id")
        _objects(thread, "messages", f"threads[{index}].messages")
    number = await _sandbox_number(session, phone_number_id)

    now = runtime.now()
    seen: set[str] = set()
    wamids: list[str] = []
    rows: list[SandboxMessage] = []
    out_threads = []
    for t_index, thread in enumerate(threads):
        wa_id = _phone(thread, "id", f"threads[{t_index}].id")
        user_id = derived_user_id(number.waba_id, wa_id=wa_id)
        messages = []
        for m_index, item in enumerate(thread["messages"]):
            field = f"threads[{t_index}].messages[{m_index}]"
            from_business = _history_sender(item, f"{field}.from", wa_id, number)
            wamid = _history_id(item, f"{field}.id") or new_wamid(wa_id, inbound=not from_business)
            if wamid in seen:
                raise bad_field(f"{field}.id", "appears twice in this chunk")
            seen.add(wamid)
            timestamp = _history_timestamp(item, f"{field}.timestamp") or _epoch(
                default_timestamp(number.created_at, phase, chunk_order, m_index)
            )
            kind, type_body = await _history_content(session, runtime, number, item, field)
            message: dict[str, Any] = {"from": number.display_phone_number if from_business else wa_id}
            if from_business:
                message["to"] = wa_id  # Meta names the recipient only on messages the business sent
                message["to_user_id"] = user_id
            else:
                message["from_user_id"] = user_id
            message.update({"id": wamid, "timestamp": timestamp, "type": kind, kind: type_body})
            message["history_context"] = {"status": _history_status(item, field)}
            messages.append(message)
            wamids.append(wamid)
            rows.append(issued_message(number, wamid, wa_id, kind, now, outbound=from_business))
        out_threads.append({"id": wa_id, "messages": messages})
    await _record_history(session, rows)

    chunk = {
        "metadata": {"phase": phase, "chunk_order": chunk_order, "progress": progress},
        "threads": out_threads,
    }
    value = {"messaging_product": "whatsapp", "metadata": metadata(number), "history": [chunk]}
    enqueue(
        session,
        lane=f"{number.phone_number_id}:{HISTORY_FIELD}",
        payload=envelope(number.waba_id, value, field=HISTORY_FIELD),
        now=now,
    )
    return {"chunk_order": chunk_order, "messages": len(wamids), "wamids": wamids}


# --- smb_app_state_sync -------------------------------------------------------------------------------


def _contact_entry(item: dict[str, Any], field: str, timestamp: str) -> dict[str, Any]:
    phone_number = _phone(item, "phone_number", f"{field}.phone_number")
    action = string_field(item, "action", f"{field}.action", required=False) or "add"
    if action not in CONTACT_ACTIONS:
        raise bad_field(f"{field}.action", f"must be one of {', '.join(CONTACT_ACTIONS)}")
    contact: dict[str, str] = {}
    if action == "add":
        full_name = (string_field(item, "full_name", f"{field}.full_name", required=False) or "").strip()
        first_name = (string_field(item, "first_name", f"{field}.first_name", required=False) or "").strip()
        if not full_name and not first_name:
            raise bad_field(f"{field}.full_name", "required when adding a contact (or give first_name)")
        contact["full_name"] = full_name or first_name
        contact["first_name"] = first_name or full_name.split()[0]
    contact["phone_number"] = phone_number
    return {"type": "contact", "contact": contact, "action": action, "metadata": {"timestamp": timestamp}}


async def receive_contacts(session: AsyncSession, runtime: SandboxRuntime, body: Any) -> Answer:
    """Owe Kirem one ``smb_app_state_sync`` webhook for the phone's contact changes."""
    body = _body_object(body)
    phone_number_id = string_field(body, "phone_number_id", "phone_number_id")
    assert phone_number_id is not None
    now = runtime.now()
    timestamp = _epoch(now)
    items = _objects(body, "contacts", "contacts")
    state_sync = [_contact_entry(item, f"contacts[{index}]", timestamp) for index, item in enumerate(items)]
    number = await _sandbox_number(session, phone_number_id)
    for entry in state_sync:
        entry["contact"]["user_id"] = derived_user_id(number.waba_id, wa_id=entry["contact"]["phone_number"])
    value = {"messaging_product": "whatsapp", "metadata": metadata(number), "state_sync": state_sync}
    enqueue(
        session,
        lane=f"{number.phone_number_id}:{STATE_SYNC_FIELD}",
        payload=envelope(number.waba_id, value, field=STATE_SYNC_FIELD),
        now=now,
    )
    return {"contacts": len(state_sync)}
