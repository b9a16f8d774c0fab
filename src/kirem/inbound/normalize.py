"""Meta webhook envelopes turned into Kirem events. Pure functions: no database, no I/O.

One envelope (``{"object": "whatsapp_business_account", "entry": [...]}``) may hold many entries
(one per WABA) and each entry many changes; every one is read. A change becomes:

* ``messages.received``: one event per item of ``value.messages`` (field ``messages``);
* ``messages.status``: one event per item of ``value.statuses`` (field ``messages``);
* ``templates.status``: field ``message_template_status_update``, one event per change;
* ``messages.echo`` / ``history.sync`` / ``contacts.sync``: the coexistence fields
  ``smb_message_echoes`` (one event per ``value.message_echoes`` item), ``history`` and
  ``smb_app_state_sync`` (one event per change, ``data`` is the value);
* ``account.update``: everything else, and a ``messages`` change holding neither messages nor
  statuses (e.g. only ``errors``); ``data`` is ``{"field": ..., "value": ...}``.

Message, status and echo events name their customer as Meta does, phone number or not: a customer
with a username may come with no ``from``/``wa_id`` and only a business-scoped user id. ``data``
then holds ``from``/``to``/``recipient_id`` (None without a number) next to ``user_id``,
``parent_user_id`` and ``username`` (``recipient_user_id``, ``recipient_parent_user_id`` on
statuses), taken from the item and else from its matching ``contacts`` entry; the event's
``customer`` holds the well-formed ones.

Each event carries a ``dedup_key`` that is equal for Meta's redeliveries of the same thing:

* ``msg:<wamid>`` (messages.received), ``echo:<wamid>`` (messages.echo),
* ``status:<wamid>:<status>`` (messages.status),
* ``tpl:<template id>:<event>:<entry time>`` (templates.status; ``<sha256 of the value>`` instead
  of the time when the entry has none),
* ``chg:<sha256 hex>`` for every other change: the hash of the canonical JSON (sorted keys, compact)
  of ``{"id": entry id, "time": entry time, "change": change}``; the entry time makes a later
  identical notice (a quality rating flagged again weeks later) a new event.

Malformed pieces (entries, changes or items that are not objects, messages or statuses without an
id) are skipped; :func:`normalize` never raises on a JSON object.

NUL characters (``\\u0000``), which PostgreSQL cannot store in text or JSON, are replaced by U+FFFD
in every string of the events (the raw body keeps Meta's bytes); a dedup key longer than
:data:`MAX_DEDUP_KEY` characters (an absurd id) keeps its prefix and hashes the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from kirem.customers import CustomerIds, customer_ids
from kirem.kit.enums import EventType
from kirem.meta.signatures import webhook_body

DEFAULT_OBJECT = "whatsapp_business_account"
MAX_DEDUP_KEY = 300
"""The length of ``events.dedup_key``."""
NUL = "\x00"
NUL_STANDIN = "\ufffd"
_ITEM_LISTS = ("messages", "statuses", "message_echoes")
_MESSAGE_KEYS = frozenset(
    {
        "from",
        "to",
        "to_user_id",
        "user_id",
        "parent_user_id",
        "username",
        "message_id",
        "timestamp",
        "type",
        "contact",
        "phone_number_id",
        "display_phone_number",
        "conversation_id",
        "context",
        "referral",
        "errors",
    }
)
"""Keys of a message event's ``data`` that a (strange) Meta message type may not overwrite."""


@dataclass(frozen=True)
class NormalizedEvent:
    phone_number_id: str | None
    """``value.metadata.phone_number_id``; None when the change has no metadata (account-level fields)."""
    waba_id: str | None
    """``entry.id``."""
    type: str
    """Kirem event type, e.g. ``messages.received``."""
    data: dict[str, Any]
    """The ``data`` object of the event in ``kirem`` format."""
    dedup_key: str
    """Equal for Meta's redeliveries of the same message, status or notice."""
    meta_body: bytes
    """The Meta-format webhook body holding only this event: the raw body when it holds nothing else."""
    message_type: str | None
    """Meta's message type for messages.received and messages.echo (``text``, ``image``, ...)."""
    sender: str | None
    """The customer's wa_id: ``from`` of a message, ``recipient_id`` of a status, ``to`` of an echo."""
    texts: tuple[str, ...]
    """What routing keywords and regexes are matched against: text body, captions, reply titles and ids."""
    customer: CustomerIds = field(default_factory=CustomerIds)
    """Every identifier of the customer the event shows (phone, BSUID, parent BSUID, username)."""


@dataclass(frozen=True)
class _Draft:
    """An event before its ``meta_body`` is known (that depends on how many events the envelope holds)."""

    phone_number_id: str | None
    waba_id: str | None
    type: str
    data: dict[str, Any]
    dedup_key: str
    message_type: str | None
    sender: str | None
    texts: tuple[str, ...]
    entry: dict[str, Any]
    change: dict[str, Any]
    item_list: str | None = None
    """Which list of the value (``messages``, ``statuses``, ``message_echoes``) the event's item is in."""
    item: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    customer: CustomerIds = field(default_factory=CustomerIds)


def normalize(raw_body: bytes, envelope: dict[str, Any]) -> list[NormalizedEvent]:
    """All Kirem events of one Meta webhook envelope, in the order Meta listed them."""
    if not isinstance(envelope, dict):
        return []
    if b"\\u0000" in raw_body:
        envelope = _without_nul(envelope)
    entries = envelope.get("entry")
    if not isinstance(entries, list):
        return []
    drafts: list[_Draft] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            continue
        for change in changes:
            if not isinstance(change, dict):
                continue
            try:
                drafts.extend(_change_drafts(entry, change))
            except _Unserialisable:  # nested too deep to hash: not something Meta sends
                continue
    whole = len(drafts) == 1 and _is_alone(envelope, drafts[0])
    events: list[NormalizedEvent] = []
    for d in drafts:
        try:
            meta_body = raw_body if whole else _narrowed_body(envelope, d)
        except _Unserialisable:
            continue
        events.append(
            NormalizedEvent(
                phone_number_id=d.phone_number_id,
                waba_id=d.waba_id,
                type=d.type,
                data=d.data,
                dedup_key=_bounded_key(d.dedup_key),
                meta_body=meta_body,
                message_type=d.message_type,
                sender=d.sender,
                texts=d.texts,
                customer=d.customer,
            )
        )
    return events


def message_texts(message: dict[str, Any]) -> tuple[str, ...]:
    """The strings of a message that routing rules match: body, caption, reply titles, ids, payloads."""
    found: list[Any] = []
    kind = message.get("type")
    body = message.get(kind) if isinstance(kind, str) else None
    if not isinstance(body, dict):
        return ()
    if kind == "text":
        found.append(body.get("body"))
    elif kind in ("image", "video", "document", "audio", "sticker"):
        found.append(body.get("caption"))
    elif kind == "button":
        found.extend((body.get("text"), body.get("payload")))
    elif kind == "interactive":
        for reply_key in ("button_reply", "list_reply"):
            reply = body.get(reply_key)
            if isinstance(reply, dict):
                found.extend((reply.get("title"), reply.get("id")))
    return tuple(text for text in found if isinstance(text, str) and text)


# --- one change -------------------------------------------------------------------------------------


def _change_drafts(entry: dict[str, Any], change: dict[str, Any]) -> list[_Draft]:
    field = change.get("field")
    value = change.get("value")
    if not isinstance(field, str) or not field or not isinstance(value, dict):
        return []
    waba_id = _id(entry.get("id"))
    metadata = member if isinstance(member := value.get("metadata"), dict) else {}
    phone_number_id = _id(metadata.get("phone_number_id"))
    common = {"phone_number_id": phone_number_id, "waba_id": waba_id, "entry": entry, "change": change}

    if field == "messages":
        messages = _list(value.get("messages"))
        statuses = _list(value.get("statuses"))
        if messages or statuses:
            drafts = [d for m in messages if (d := _message_draft(value, m, common, _RECEIVED)) is not None]
            drafts += [d for s in statuses if (d := _status_draft(value, s, common)) is not None]
            return drafts
    elif field == "message_template_status_update":
        return [_template_draft(entry, change, value, common)]
    elif field == "smb_message_echoes":
        echoes = _list(value.get("message_echoes"))
        return [d for m in echoes if (d := _message_draft(value, m, common, _ECHOED)) is not None]
    elif field == "history":
        return [_whole_change_draft(EventType.HISTORY_SYNC, value, entry, change, common)]
    elif field == "smb_app_state_sync":
        return [_whole_change_draft(EventType.CONTACTS_SYNC, value, entry, change, common)]
    data = {"field": field, "value": value}
    return [_whole_change_draft(EventType.ACCOUNT_UPDATE, data, entry, change, common)]


@dataclass(frozen=True)
class _Direction:
    """A message's way: the customer's address key (``from`` in, ``to`` out), its event and item list."""

    party: str
    type: EventType
    key_prefix: str
    item_list: str


_RECEIVED = _Direction("from", EventType.MESSAGES_RECEIVED, "msg", "messages")
_ECHOED = _Direction("to", EventType.MESSAGES_ECHO, "echo", "message_echoes")


def _message_draft(
    value: dict[str, Any], message: Any, common: dict[str, Any], way: _Direction
) -> _Draft | None:
    """A received message, or the echo of one the business sent from the WhatsApp Business app.

    An echo takes only the ``contacts`` entry of its recipient, never the first one as a fallback.
    """
    if not isinstance(message, dict):
        return None
    wamid = _id(message.get("id"))
    if wamid is None:
        return None
    party, received = way.party, way is _RECEIVED
    user_id = _id(message.get(f"{party}_user_id"))
    contact = _contact(value, _id(message.get(party)), user_id, fallback=received)
    customer = _customer(contact, message.get(party), user_id, message.get(f"{party}_parent_user_id"))
    data = _message_data(value, message, contact)
    if received:
        data["from"] = message.get("from") or customer.phone
    elif "to_user_id" in message:
        data["to_user_id"] = message["to_user_id"]
    _add_identity(data, customer, contact)
    return _Draft(
        type=way.type,
        data=data,
        dedup_key=f"{way.key_prefix}:{wamid}",
        message_type=_str(message.get("type")),
        sender=customer.phone,
        texts=message_texts(message),
        item_list=way.item_list,
        item=message,
        contact=contact,
        customer=customer,
        **common,
    )


def _message_data(
    value: dict[str, Any], message: dict[str, Any], contact: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``data`` of messages.received (and messages.echo, which adds ``to``)."""
    metadata = member if isinstance(member := value.get("metadata"), dict) else {}
    kind = message.get("type")
    data: dict[str, Any] = {"from": message.get("from")}
    if "to" in message:
        data["to"] = message["to"]
    data.update(message_id=message.get("id"), timestamp=message.get("timestamp"), type=kind)
    if isinstance(kind, str) and kind not in _MESSAGE_KEYS and kind in message:
        data[kind] = message[kind]
    data.update(
        contact=contact,
        phone_number_id=metadata.get("phone_number_id"),
        display_phone_number=metadata.get("display_phone_number"),
        conversation_id=None,
        context=message.get("context"),
    )
    for optional in ("referral", "errors"):
        if optional in message:
            data[optional] = message[optional]
    return data


def _status_draft(value: dict[str, Any], status: Any, common: dict[str, Any]) -> _Draft | None:
    if not isinstance(status, dict):
        return None
    wamid = _id(status.get("id"))
    state = _str(status.get("status"))
    if wamid is None or state is None:
        return None
    metadata = member if isinstance(member := value.get("metadata"), dict) else {}
    user_id = _id(status.get("recipient_user_id"))
    contact = _contact(value, _id(status.get("recipient_id")), user_id, fallback=False)
    customer = _customer(contact, status.get("recipient_id"), user_id, status.get("recipient_parent_user_id"))
    data: dict[str, Any] = {
        "message_id": status.get("id"),
        "status": state,
        "timestamp": status.get("timestamp"),
        "recipient_id": status.get("recipient_id") or customer.phone,
        "recipient_user_id": status.get("recipient_user_id") or customer.user_id,
        "recipient_parent_user_id": status.get("recipient_parent_user_id") or customer.parent_user_id,
        "username": customer.username,
        "phone_number_id": metadata.get("phone_number_id"),
        "display_phone_number": metadata.get("display_phone_number"),
        "conversation": status.get("conversation"),
        "pricing": status.get("pricing"),
        "errors": status.get("errors"),
    }
    for optional in ("biz_opaque_callback_data", "group_id"):
        if optional in status:
            data[optional] = status[optional]
    return _Draft(
        type=EventType.MESSAGES_STATUS,
        data=data,
        dedup_key=f"status:{wamid}:{state}",
        message_type=None,
        sender=customer.phone,
        texts=(),
        item_list="statuses",
        item=status,
        contact=contact,
        customer=customer,
        **common,
    )


def _template_draft(
    entry: dict[str, Any], change: dict[str, Any], value: dict[str, Any], common: dict[str, Any]
) -> _Draft:
    template_id = _id(value.get("message_template_id"))
    event = _str(value.get("event")) or ""
    if template_id is None:
        key = _change_key(entry, change)
    else:
        time = entry.get("time")
        when = str(time) if isinstance(time, int | str) and not isinstance(time, bool) else _sha256(value)
        key = f"tpl:{template_id}:{event}:{when}"
    return _Draft(
        type=EventType.TEMPLATES_STATUS,
        data=value,
        dedup_key=key,
        message_type=None,
        sender=None,
        texts=(),
        **common,
    )


def _whole_change_draft(
    kind: str, data: dict[str, Any], entry: dict[str, Any], change: dict[str, Any], common: dict[str, Any]
) -> _Draft:
    return _Draft(
        type=kind,
        data=data,
        dedup_key=_change_key(entry, change),
        message_type=None,
        sender=None,
        texts=(),
        **common,
    )


def _contact(
    value: dict[str, Any], wa_id: str | None, user_id: str | None, *, fallback: bool = True
) -> dict[str, Any] | None:
    """The ``contacts`` entry of ``wa_id`` or ``user_id``, else (with ``fallback``) the first one."""
    contacts = [c for c in _list(value.get("contacts")) if isinstance(c, dict)]
    for contact in contacts:
        if wa_id is not None and _id(contact.get("wa_id")) == wa_id:
            return contact
        if user_id is not None and _id(contact.get("user_id")) == user_id:
            return contact
    return contacts[0] if contacts and fallback else None


def _customer(contact: dict[str, Any] | None, phone: Any, user_id: Any, parent_user_id: Any) -> CustomerIds:
    """The customer's identifiers: the item's own first, the matching ``contacts`` entry's otherwise."""
    contact = contact or {}
    profile = member if isinstance(member := contact.get("profile"), dict) else {}
    return customer_ids(
        phone=phone or contact.get("wa_id"),
        user_id=user_id or contact.get("user_id"),
        parent_user_id=parent_user_id or contact.get("parent_user_id"),
        username=profile.get("username"),
    )


def _add_identity(data: dict[str, Any], customer: CustomerIds, contact: dict[str, Any] | None) -> None:
    """The customer's BSUIDs and username on a message event's ``data``, as Meta sent them."""
    contact = contact or {}
    data["user_id"] = customer.user_id or _str(contact.get("user_id"))
    data["parent_user_id"] = customer.parent_user_id or _str(contact.get("parent_user_id"))
    data["username"] = customer.username


# --- meta_body ------------------------------------------------------------------------------------


def _is_alone(envelope: dict[str, Any], draft: _Draft) -> bool:
    """Whether the raw body holds this event and nothing else (no other entry, change or item)."""
    entries = envelope.get("entry")
    if not isinstance(entries, list) or len(entries) != 1:
        return False
    changes = draft.entry.get("changes")
    if not isinstance(changes, list) or len(changes) != 1:
        return False
    value = draft.change.get("value")
    if draft.item_list is None or not isinstance(value, dict):
        return True
    for name in _ITEM_LISTS:
        items = value.get(name)
        expected = 1 if name == draft.item_list else 0
        if items is not None and (not isinstance(items, list) or len(items) != expected):
            return False
    return True


def _narrowed_body(envelope: dict[str, Any], draft: _Draft) -> bytes:
    """The envelope reduced to this one event: one entry, one change, one item, written as Meta
    writes its bodies (non-ASCII escaped)."""
    change = draft.change
    if draft.item_list is not None and isinstance(change.get("value"), dict):
        value = {k: v for k, v in change["value"].items() if k not in _ITEM_LISTS}
        if "contacts" in value:
            value["contacts"] = [draft.contact] if draft.contact is not None else []
        value[draft.item_list] = [draft.item]
        change = {**change, "value": value}
    entry: dict[str, Any] = {"id": draft.entry.get("id")}
    if "time" in draft.entry:
        entry["time"] = draft.entry["time"]
    entry["changes"] = [change]
    obj = envelope.get("object")
    try:
        return webhook_body({"object": obj if isinstance(obj, str) else DEFAULT_OBJECT, "entry": [entry]})
    except (ValueError, RecursionError) as exc:
        raise _Unserialisable from exc


# --- helpers --------------------------------------------------------------------------------------


def _bounded_key(key: str) -> str:
    if len(key) <= MAX_DEDUP_KEY:
        return key
    prefix = key.split(":", 1)[0]
    return f"{prefix}:sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _without_nul(obj: Any) -> Any:
    """``obj`` with every NUL in its strings and keys replaced (as deep as Python can recurse)."""
    try:
        return _replace_nul(obj)
    except RecursionError:
        return obj


def _replace_nul(obj: Any) -> Any:
    if isinstance(obj, str):
        return obj.replace(NUL, NUL_STANDIN)
    if isinstance(obj, list):
        return [_replace_nul(item) for item in obj]
    if isinstance(obj, dict):
        return {_replace_nul(key): _replace_nul(value) for key, value in obj.items()}
    return obj


def _change_key(entry: dict[str, Any], change: dict[str, Any]) -> str:
    return "chg:" + _sha256({"id": entry.get("id"), "time": entry.get("time"), "change": change})


def _sha256(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj)).hexdigest()


class _Unserialisable(Exception):
    """A piece of the envelope that cannot be written back as JSON (nested hundreds of levels deep)."""


def _canonical(obj: Any) -> bytes:
    return _dumps(obj, sort_keys=True)


def _dumps(obj: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON; Python's encoder when orjson refuses (integers beyond 64 bits, lone surrogates,
    deep nesting), escaping non-ASCII so the bytes are valid UTF-8 whatever the strings hold."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except (TypeError, ValueError):
        pass
    try:
        return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), default=repr).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise _Unserialisable from exc


def _id(raw: Any) -> str | None:
    """A non-empty string or integer id as a string (Meta sends some ids as numbers)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    return raw if isinstance(raw, str) and raw else None


def _str(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []
