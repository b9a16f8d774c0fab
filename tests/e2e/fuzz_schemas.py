"""Request schemas for the schema-fuzzing run (tests/e2e/test_fuzz.py), written as facts.

The server's own ``/openapi.json`` describes its routes but not their bodies (routes read JSON
themselves), so the fuzzer would only ever send empty requests. These JSON schemas describe what
the documentation says each operation takes — docs/api.md, docs/routing.md, docs/conversations.md,
docs/management.md, docs/mcp.md, and for Graph-compatible paths Meta's own request bodies (Meta's
Cloud API OpenAPI, v23.0: ``Message``, template creation, ``whatsapp_business_profile``).
:func:`augment` adds them to the served document, with the ids of a bootstrapped project offered
beside arbitrary strings for every path parameter.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

GRAPH_VERSION = "23.0"  # the ``{version}`` of ``/v{version}/…`` (Meta's ``v<major>.<minor>``)

EVENT_TYPES = [
    "messages.received", "messages.status", "messages.echo", "history.sync", "contacts.sync",
    "templates.status", "account.update", "targets.disabled", "sla.breached", "sla.recovered",
    "templates.status", "account.update", "targets.disabled", "channels.connected",
]  # fmt: skip
MESSAGE_TYPES = [
    "text", "template", "image", "video", "audio", "document", "sticker",
    "location", "contacts", "interactive", "reaction",
]  # fmt: skip
INTERACTIVE_TYPES = [
    "button", "list", "cta_url", "product", "product_list", "catalog_message", "flow",
    "location_request_message", "address_message", "order_details", "order_status",
]  # fmt: skip
VERTICALS = [
    "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE", "GROCERY", "GOVT",
    "HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "OTHER",
]  # fmt: skip
LOG_STATUSES = ["pending", "accepted", "sent", "delivered", "read", "failed", "received"]
DELIVERY_STATUSES = ["pending", "succeeded", "failed", "skipped"]
CONVERSATION_STATUSES = ["open", "pending", "resolved", "on_hold"]
TEMPLATE_STATUSES = ["APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"]
PLANS = ["developer", "growth", "scale", "enterprise"]
LIMIT_NAMES = [
    "projects", "channels", "outbound_per_day", "retention_days", "webhook_targets",
    "routing_rules", "analytics_api", "ip_allowlist",
]  # fmt: skip


def obj(properties: Schema, required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def real(name: str) -> str:
    """The placeholder of a bootstrapped id: generated cases are replaced per server before sending."""
    return f"<{name}>"


def strings(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


ARABIC_INDIC_DIGITS = "\u0666\u0662\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"
FULL_WIDTH_DIGITS = "\uff16\uff12\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"
HOSTILE_TEXT = [
    "", " ", "\x00", "nul\x00byte", "\x01\x1f\x7f", "..", "../../v1/messages", "%2e%2e%2f", "%00",
    ARABIC_INDIC_DIGITS, FULL_WIDTH_DIGITS,
    "\u202e\u200b\ufeff", "\U0001f600", "' OR '1'='1", "{{1}}", "<script>", "x" * 5000,
]  # fmt: skip
"""Strings a hostile client sends: NUL and control bytes, traversal, look-alike digits, long text."""
HOSTILE_NUMBERS = [
    "99999999999999999999999", "-99999999999999999999999", "1e400", "-1", "0x1F", "\u0663", "NaN",
]  # fmt: skip
"""Numbers in strings (query parameters) that are too big, negative, or not plain digits."""
HOSTILE_PROBES = [
    "nul\x00byte", "99999999999999999999999", ARABIC_INDIC_DIGITS, "../../v1/messages", "x" * 5000, 10**30,
]  # fmt: skip
"""Swapped one at a time into every parameter and body value of the documented requests."""
HUGE_INTEGERS = [2**63, -(2**63) - 1, 2**31, 10**30]

TEXT: Schema = {"anyOf": [{"type": "string"}, {"enum": HOSTILE_TEXT}]}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"anyOf": [{"type": "integer"}, {"enum": HUGE_INTEGERS}]}
PHONE: Schema = {"anyOf": [{"type": "string", "pattern": "^\\+?[0-9]{8,15}$"}, TEXT]}
"""A WhatsApp number: digits (optionally ``+``), and sometimes anything at all."""
BSUID: Schema = {"anyOf": [{"type": "string", "pattern": "^[A-Z]{2}\\.(ENT\\.)?[A-Za-z0-9]{1,128}$"}, TEXT]}
"""A business-scoped user id (``US.1349…``, a parent ``US.ENT.1181…``), and sometimes anything at all."""
LIST_OF_TEXT: Schema = {"type": "array", "items": TEXT}
NUMERIC: Schema = {"anyOf": [INT, {"enum": HOSTILE_NUMBERS}, TEXT]}
"""A numeric parameter: integers of any size, and strings that are not plain numbers."""
TIME: Schema = {"anyOf": [{"type": "string", "format": "date-time"}, NUMERIC]}
"""ISO 8601 or Unix seconds, as the log endpoints take them."""

# Meta's send body (POST /{phone_number_id}/messages) ----------------------------------------

MEDIA_OBJECT = obj({"id": TEXT, "link": TEXT, "caption": TEXT, "filename": TEXT})
_ENVELOPE: Schema = {
    "messaging_product": strings("whatsapp"),
    "recipient_type": strings("individual", "group"),
    "to": PHONE,
    "recipient": BSUID,
    "context": obj({"message_id": TEXT}),
    "biz_opaque_callback_data": TEXT,
}
_BUTTON = obj(
    {"type": strings("reply"), "reply": obj({"id": TEXT, "title": TEXT}, ["id", "title"])}, ["type", "reply"]
)
_SECTION = obj(
    {
        "title": TEXT,
        "rows": {"type": "array", "items": obj({"id": TEXT, "title": TEXT, "description": TEXT})},
    }
)
INTERACTIVE = obj(
    {
        "type": {"anyOf": [strings(*INTERACTIVE_TYPES), TEXT]},
        "header": obj({"type": strings("text", "image", "video", "document"), "text": TEXT}),
        "body": obj({"text": TEXT}),
        "footer": obj({"text": TEXT}),
        "action": obj(
            {
                "button": TEXT,
                "buttons": {"type": "array", "items": _BUTTON},
                "sections": {"type": "array", "items": _SECTION},
                "name": TEXT,
                "parameters": obj({"display_text": TEXT, "url": TEXT}),
            }
        ),
    },
    ["type"],
)
TEMPLATE_MESSAGE = obj(
    {
        "name": TEXT,
        "language": obj({"code": TEXT, "policy": strings("deterministic")}, ["code"]),
        "components": {
            "type": "array",
            "items": obj(
                {
                    "type": strings("header", "body", "button"),
                    "sub_type": strings("quick_reply", "url"),
                    "index": NUMERIC,
                    "parameters": {
                        "type": "array",
                        "items": obj({"type": strings("text", "payload", "image"), "text": TEXT}),
                    },
                }
            ),
        },
    },
    ["name", "language"],
)
_TYPE_BODIES: dict[str, Schema] = {
    "text": obj({"body": TEXT, "preview_url": BOOL}, ["body"]),
    "template": TEMPLATE_MESSAGE,
    **{media: MEDIA_OBJECT for media in ("image", "video", "audio", "document", "sticker")},
    "location": obj({"latitude": {"type": "number"}, "longitude": {"type": "number"}, "name": TEXT}),
    "contacts": {
        "type": "array",
        "items": obj(
            {
                "name": obj({"formatted_name": TEXT, "first_name": TEXT}),
                "phones": {"type": "array", "items": obj({"phone": PHONE, "type": TEXT})},
            }
        ),
    },
    "interactive": INTERACTIVE,
    "reaction": obj({"message_id": TEXT, "emoji": TEXT}, ["message_id"]),
}


def _typed(message_type: str, addressee: str | None) -> Schema:
    """A message of one type sent ``to`` a number, to a ``recipient`` BSUID, or (None) to nobody."""
    properties = {**_ENVELOPE, "type": strings(message_type), message_type: _TYPE_BODIES[message_type]}
    for name in ("to", "recipient"):
        if name != addressee:
            properties.pop(name)
    required = ["type", message_type] + (["messaging_product", addressee] if addressee else [])
    return obj(properties, required)


READ_RECEIPT = obj(
    {
        "messaging_product": strings("whatsapp"),
        "status": strings("read"),
        "message_id": TEXT,
        "typing_indicator": obj({"type": strings("text")}),
    },
    ["messaging_product", "message_id"],
)
SEND: Schema = {
    "anyOf": [
        *(_typed(t, "to") for t in MESSAGE_TYPES),
        *(_typed(t, "recipient") for t in MESSAGE_TYPES),
        {**READ_RECEIPT, "required": ["messaging_product", "status", "message_id"]},
        obj({**_ENVELOPE, "type": TEXT}),
    ]
}
"""Every message type of Meta's ``Message`` with its type object; a read receipt; anything else."""

# Templates and profile ------------------------------------------------------------------------

_TEMPLATE_BUTTON = obj(
    {
        "type": strings("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP"),
        "text": TEXT,
        "url": TEXT,
        "phone_number": TEXT,
    },
    ["type", "text"],
)
TEMPLATE = obj(
    {
        "name": {"anyOf": [{"type": "string", "pattern": "^[a-z0-9_]{1,40}$"}, TEXT]},
        "category": {"anyOf": [strings("MARKETING", "UTILITY", "AUTHENTICATION"), TEXT]},
        "language": {"anyOf": [strings("en_US", "id"), TEXT]},
        "parameter_format": strings("POSITIONAL", "NAMED"),
        "components": {
            "type": "array",
            "items": obj(
                {
                    "type": strings("HEADER", "BODY", "FOOTER", "BUTTONS"),
                    "format": strings("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"),
                    "text": TEXT,
                    "buttons": {"type": "array", "items": _TEMPLATE_BUTTON},
                    "example": obj({"body_text": {"type": "array", "items": LIST_OF_TEXT}}),
                },
                ["type"],
            ),
        },
    },
    ["name", "category", "language", "components"],
)
PROFILE = obj(
    {
        "messaging_product": strings("whatsapp"),
        "about": TEXT,
        "address": TEXT,
        "description": TEXT,
        "email": TEXT,
        "vertical": {"anyOf": [strings(*VERTICALS), TEXT]},
        "websites": LIST_OF_TEXT,
        "profile_picture_handle": TEXT,
    }
)

# Webhook routing ------------------------------------------------------------------------------

TARGET_FIELDS: Schema = {
    "url": {"anyOf": [{"type": "string", "format": "uri"}, TEXT]},
    "description": TEXT,
    "payload_format": {"anyOf": [strings("kirem", "meta"), TEXT]},
    "events": {"type": "array", "items": {"anyOf": [strings(*EVENT_TYPES), TEXT]}},
    "enabled": BOOL,
    "headers": {"type": "object", "additionalProperties": TEXT},
    "timeout_seconds": NUMERIC,
    "max_attempts": NUMERIC,
    "retry_schedule": {"type": "array", "items": NUMERIC},
}
TARGET_CREATE = obj(TARGET_FIELDS, ["url"])
TARGET_UPDATE = obj(TARGET_FIELDS)
CONDITIONS = obj(
    {
        "event_types": {"type": "array", "items": {"anyOf": [strings(*EVENT_TYPES), TEXT]}},
        "message_types": LIST_OF_TEXT,
        "senders": {"type": "array", "items": PHONE},
        "keywords": LIST_OF_TEXT,
        "regex": TEXT,
        "channel_ids": LIST_OF_TEXT,
    }
)


def rule_fields(target_ids: list[str]) -> Schema:
    return {
        "name": TEXT,
        "enabled": BOOL,
        "target_ids": {"type": "array", "items": {"anyOf": [strings(*target_ids), TEXT]}},
        "conditions": CONDITIONS,
    }


RULE_TEST: Schema = {
    "anyOf": [
        obj(
            {
                "event": {"anyOf": [strings(*EVENT_TYPES), TEXT]},
                "data": obj({"from": PHONE, "type": TEXT, "text": obj({"body": TEXT}), "channel_id": TEXT}),
            },
            ["event", "data"],
        ),
        obj({"type": strings(*EVENT_TYPES), "message_type": TEXT, "from": PHONE, "text": TEXT}, ["type"]),
    ]
}
REPLAY_FILTER = obj(
    {
        "status": {"anyOf": [strings(*DELIVERY_STATUSES), TEXT]},
        "is_success": {"anyOf": [BOOL, TEXT]},
        "target_id": TEXT,
        "event": {"anyOf": [strings(*EVENT_TYPES), TEXT]},
        "since": TIME,
        "until": TIME,
    }
)

# Conversations ------------------------------------------------------------------------------

CONVERSATION_UPDATE = obj({"status": {"anyOf": [strings(*CONVERSATION_STATUSES), TEXT]}}, ["status"])
REPLY: Schema = {"anyOf": [obj({"text": TEXT}, ["text"]), *(_typed(t, None) for t in MESSAGE_TYPES)]}

# Management and operator --------------------------------------------------------------------

NAMED = obj({"name": TEXT}, ["name"])
ROLES: Schema = {
    "type": "object",
    "additionalProperties": {"anyOf": [strings("owner", "developer", "agent"), {"type": "null"}, TEXT]},
}
USER_CREATE = obj(
    {"email": TEXT, "password": TEXT, "account_owner": {"anyOf": [BOOL, TEXT]}, "roles": ROLES},
    ["email", "password"],
)
USER_UPDATE = obj({"account_owner": {"anyOf": [BOOL, TEXT]}, "roles": ROLES})
PASSWORD_RESET = obj({"password": TEXT})
KEY_CREATE = obj(
    {
        "name": TEXT,
        "mode": {"anyOf": [strings("live", "test"), TEXT]},
        "scope": {"anyOf": [strings("api", "mcp"), TEXT]},
    }
)
FRACTION: Schema = {"anyOf": [{"type": "number"}, {"enum": HOSTILE_NUMBERS}, TEXT]}
MCP_ENDPOINT = obj({"slug": TEXT, "rate_limit_per_second": FRACTION}, ["slug"])
SLA_POLICY = obj(
    {
        "window_seconds": NUMERIC,
        "min_success_rate": FRACTION,
        "max_p95_latency_ms": NUMERIC,
        "min_deliveries": NUMERIC,
    },
    ["window_seconds"],
)
CHANNEL_CREATE: Schema = {
    "anyOf": [
        obj({"kind": strings("sandbox"), "display_phone_number": PHONE}, ["kind"]),
        obj(
            {
                "kind": strings("live"),
                "phone_number_id": TEXT,
                "waba_id": TEXT,
                "access_token": TEXT,
                "display_phone_number": PHONE,
                "verify": BOOL,
                "subscribe_app": BOOL,
            },
            ["kind", "phone_number_id", "waba_id", "access_token"],
        ),
    ]
}
SETUP_LINK_CREATE = obj(
    {
        "client_name": TEXT,
        "redirect_url": {"anyOf": [{"type": "string", "format": "uri"}, TEXT]},
        "expires_in_seconds": NUMERIC,
        "coexistence": BOOL,
        "sandbox": BOOL,
        "pin": {"anyOf": [{"type": "string", "pattern": "^[0-9]{6}$"}, TEXT]},
    },
    ["client_name", "redirect_url"],
)
EGRESS = obj(
    {
        "bind_address": {
            "anyOf": [
                {"type": "string", "format": "ipv4"},
                {"type": "string", "format": "ipv6"},
                TEXT,
                {"type": "null"},
            ]
        },
        "proxy_url": {"anyOf": [{"type": "string", "format": "uri"}, TEXT, {"type": "null"}]},
    }
)
IP_ALLOWLIST = obj(
    {
        "cidrs": {
            "type": "array",
            "items": {
                "anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}, TEXT]
            },
        }
    },
    ["cidrs"],
)
ACCOUNT_CREATE = obj({"name": TEXT, "plan": {"anyOf": [strings(*PLANS), TEXT]}}, ["name"])
ACCOUNT_UPDATE = obj(
    {
        "plan": {"anyOf": [strings(*PLANS), TEXT]},
        "limit_overrides": {
            "type": "object",
            "properties": {name: {"anyOf": [INT, BOOL, {"type": "null"}]} for name in LIMIT_NAMES},
        },
    }
)

# MCP (JSON-RPC 2.0 over POST /v1/mcp) -------------------------------------------------------

_SESSION_ID: Schema = {"anyOf": [{"type": "string", "format": "uuid"}, TEXT]}
_TOOL_ARGUMENTS: dict[str, Schema] = {
    "list_conversations": obj({"status": {"anyOf": [strings(*CONVERSATION_STATUSES), TEXT]}}),
    "get_conversation": obj({"session_id": _SESSION_ID}, ["session_id"]),
    "send_message": obj({"session_id": _SESSION_ID, "text": TEXT, "force": BOOL}, ["session_id", "text"]),
    "send_template": obj(
        {
            "name": TEXT,
            "language": TEXT,
            "session_id": _SESSION_ID,
            "to": PHONE,
            "recipient": BSUID,
            "parameters": LIST_OF_TEXT,
            "force": BOOL,
        },
        ["name", "language"],
    ),
    "list_templates": obj({"status": {"anyOf": [strings(*TEMPLATE_STATUSES), TEXT]}}),
    "update_conversation_status": obj(
        {"session_id": _SESSION_ID, "status": {"anyOf": [strings(*CONVERSATION_STATUSES), TEXT]}},
        ["session_id", "status"],
    ),
    "view_analytics": obj({"since": TEXT, "until": TEXT}),
}


def _rpc(method: str, params: Schema | None = None) -> Schema:
    properties: Schema = {"jsonrpc": strings("2.0"), "id": INT, "method": strings(method)}
    if params is not None:
        properties["params"] = params
    return obj(properties, ["jsonrpc", "id", "method"] + (["params"] if params is not None else []))


MCP: Schema = {
    "anyOf": [
        _rpc("tools/list"),
        _rpc(
            "initialize",
            obj(
                {
                    "protocolVersion": strings("2025-06-18", "2025-03-26"),
                    "capabilities": {"type": "object"},
                    "clientInfo": obj({"name": TEXT, "version": TEXT}),
                }
            ),
        ),
        *(
            _rpc("tools/call", obj({"name": strings(tool), "arguments": arguments}, ["name", "arguments"]))
            for tool, arguments in _TOOL_ARGUMENTS.items()
        ),
        obj({"jsonrpc": TEXT, "id": NUMERIC, "method": TEXT, "params": {"type": "object"}}),
        obj({"method": strings("tools/call"), "tool": strings(*_TOOL_ARGUMENTS), "status": TEXT}),
    ]
}
"""Every tool with its arguments (docs/mcp.md), ``initialize``, and the seed's shorthand."""

UPLOAD: Schema = obj(
    {"file": {"type": "string", "format": "binary"}, "messaging_product": strings("whatsapp")}, ["file"]
)

# One documented, valid request per operation (sent before the generated ones) ---------------

CUSTOMER = "62812340000"
"""The bootstrapped customer: has written, so the 24-hour window is open."""
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
_TEXT_MESSAGE = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": CUSTOMER,
    "type": "text",
    "text": {"body": "Halo dari Kirem!"},
}
_HELLO_WORLD = {
    "messaging_product": "whatsapp",
    "to": CUSTOMER,
    "type": "template",
    "template": {"name": "hello_world", "language": {"code": "en_US"}},
}
_UPLOAD = {"file": PNG, "messaging_product": "whatsapp"}


def _new_template(name: str) -> Schema:
    body = {"type": "BODY", "text": "Order {{1}} is ready", "example": {"body_text": [["A1"]]}}
    return {"name": name, "category": "UTILITY", "language": "en_US", "components": [body]}


def _tool(name: str, arguments: Schema) -> Schema:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


DOCUMENTED: dict[tuple[str, str], Schema] = {
    ("post", "/v1/messages"): {"body": _TEXT_MESSAGE},
    ("post", "/v1/messages/read"): {
        "body": {"messaging_product": "whatsapp", "message_id": real("inbound_wamid")}
    },
    ("post", "/v1/{phone_number_id}/messages"): {"body": _HELLO_WORLD},
    ("post", "/v1/media"): {"body": _UPLOAD},
    ("get", "/v1/templates"): {"query": {"status": "APPROVED"}},
    ("post", "/v1/templates"): {"body": _new_template("fuzz_shipping_update")},
    ("post", "/v1/profile"): {"body": {"about": "Fuzzed", "vertical": "RETAIL"}},
    ("get", "/v1/analytics/messages"): {"query": {"direction": "outbound", "limit": "10"}},
    ("post", "/v1/webhooks/targets"): {"body": {"url": real("nowhere"), "events": ["messages.received"]}},
    ("patch", "/v1/webhooks/targets/{target_id}"): {"body": {"description": "fuzzed", "enabled": True}},
    ("post", "/v1/webhooks/rules"): {
        "body": {
            "name": "texts",
            "conditions": {"message_types": ["text"]},
            "target_ids": [real("target_id")],
        }
    },
    ("patch", "/v1/webhooks/rules/{rule_id}"): {"body": {"enabled": True}},
    ("post", "/v1/webhooks/rules/test"): {
        "body": {"type": "messages.received", "message_type": "text", "from": CUSTOMER, "text": "halo"}
    },
    ("post", "/v1/webhooks/replay"): {"body": {"status": "failed"}},
    ("get", "/v1/events"): {"query": {"event": "messages.received"}},
    ("patch", "/v1/conversations/{conversation_id}"): {"body": {"status": "open"}},
    ("post", "/v1/conversations/{conversation_id}/messages"): {"body": {"text": "Ready kak!"}},
    ("post", "/v1/mcp"): {"body": _tool("list_conversations", {"status": "open"})},
    ("get", "/v1/usage"): {"query": {"month": "2026-11"}},
    ("get", "/v1/manage/usage"): {"query": {"month": "2026-11"}},
    ("post", "/v1/mcp/{project_slug}"): {"body": _tool("list_conversations", {"status": "open"})},
    ("put", "/v1/manage/projects/{project_id}/mcp-endpoint"): {
        "body": {"slug": real("spare_mcp_slug"), "rate_limit_per_second": 1000}
    },
    ("put", "/v1/manage/projects/{project_id}/sla"): {
        "body": {"window_seconds": 3600, "min_success_rate": 0.99, "max_p95_latency_ms": 5000}
    },
    ("post", "/v1/setup-links"): {
        "body": {"client_name": "Toko Fuzz", "redirect_url": "https://agency.example/done", "sandbox": True}
    },
    ("post", "/v1/manage/projects"): {"body": {"name": "fuzzed"}},
    ("put", "/v1/manage/projects/{project_id}/ip-allowlist"): {"body": {"cidrs": []}},
    ("put", "/v1/manage/projects/{project_id}/egress"): {"body": {"bind_address": "127.0.0.1"}},
    ("post", "/v1/manage/projects/{project_id}/keys"): {"body": {"name": "ci", "mode": "test"}},
    ("post", "/v1/manage/projects/{project_id}/channels"): {"body": {"kind": "sandbox"}},
    ("post", "/v1/operator/accounts"): {"body": {"name": "fuzzed", "plan": "growth"}},
    ("post", "/v1/manage/users"): {
        "body": {"email": "fuzz-dev@example.com", "password": "correct horse battery"}
    },
    ("patch", "/v1/manage/users/{user_id}"): {"body": {"account_owner": False}},
    ("post", "/v1/operator/users/{user_id}/password"): {"body": {"password": "another long password"}},
    ("patch", "/v1/operator/accounts/{account_id}"): {"body": {"plan": "scale"}},
    ("post", "/v{version}/{phone_number_id}/messages"): {"body": _TEXT_MESSAGE},
    ("post", "/v{version}/{phone_number_id}/media"): {"body": _UPLOAD},
    ("post", "/v{version}/{waba_id}/message_templates"): {"body": _new_template("fuzz_graph_template")},
    ("delete", "/v{version}/{waba_id}/message_templates"): {"query": {"name": "fuzz_graph_template"}},
    ("post", "/v{version}/{phone_number_id}/whatsapp_business_profile"): {
        "body": {"messaging_product": "whatsapp", "about": "Fuzzed"}
    },
}
"""Documented requests by (method, path), beside real path ids; every other operation takes none."""
REFUSED_WHEN_VALID = {("post", "/webhooks/meta"), ("get", "/webhooks/meta")}
"""Meta's receiver: without Meta's signature (or verify token) it refuses, which is right."""


# The served document, completed ---------------------------------------------------------------


def json_body(schema: Schema, required: bool = True) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _multipart(schema: Schema) -> Schema:
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def request_bodies() -> dict[tuple[str, str], Schema]:
    """The body of each operation that takes one, by (method, path)."""
    rules = rule_fields([real("target_id"), real("spare_target_id")])
    graph = "/v{version}"
    return {
        ("post", "/v1/messages"): json_body(SEND),
        ("post", "/v1/messages/read"): json_body(READ_RECEIPT),
        ("post", "/v1/{phone_number_id}/messages"): json_body(SEND),
        ("post", "/v1/media"): _multipart(UPLOAD),
        ("post", "/v1/templates"): json_body(TEMPLATE),
        ("post", "/v1/profile"): json_body(PROFILE),
        ("post", "/v1/webhooks/targets"): json_body(TARGET_CREATE),
        ("patch", "/v1/webhooks/targets/{target_id}"): json_body(TARGET_UPDATE),
        ("post", "/v1/webhooks/rules"): json_body(obj(rules, ["target_ids"])),
        ("patch", "/v1/webhooks/rules/{rule_id}"): json_body(obj(rules)),
        ("post", "/v1/webhooks/rules/test"): json_body(RULE_TEST),
        ("post", "/v1/webhooks/replay"): json_body(REPLAY_FILTER, required=False),
        ("patch", "/v1/conversations/{conversation_id}"): json_body(CONVERSATION_UPDATE),
        ("post", "/v1/conversations/{conversation_id}/messages"): json_body(REPLY),
        ("post", "/v1/mcp"): json_body(MCP),
        ("post", "/v1/mcp/{project_slug}"): json_body(MCP),
        ("put", "/v1/manage/projects/{project_id}/mcp-endpoint"): json_body(MCP_ENDPOINT),
        ("put", "/v1/manage/projects/{project_id}/sla"): json_body(SLA_POLICY),
        ("post", "/v1/setup-links"): json_body(SETUP_LINK_CREATE),
        ("post", "/v1/manage/projects"): json_body(NAMED),
        ("put", "/v1/manage/projects/{project_id}/ip-allowlist"): json_body(IP_ALLOWLIST),
        ("put", "/v1/manage/projects/{project_id}/egress"): json_body(EGRESS),
        ("post", "/v1/manage/projects/{project_id}/keys"): json_body(KEY_CREATE, required=False),
        ("post", "/v1/manage/projects/{project_id}/channels"): json_body(CHANNEL_CREATE),
        ("post", "/v1/operator/accounts"): json_body(ACCOUNT_CREATE),
        ("post", "/v1/manage/users"): json_body(USER_CREATE),
        ("patch", "/v1/manage/users/{user_id}"): json_body(USER_UPDATE),
        ("post", "/v1/operator/users/{user_id}/password"): json_body(PASSWORD_RESET, required=False),
        ("patch", "/v1/operator/accounts/{account_id}"): json_body(ACCOUNT_UPDATE),
        ("post", "/webhooks/meta"): json_body({"type": "object"}),
        ("post", graph + "/{phone_number_id}/messages"): json_body(SEND),
        ("post", graph + "/{phone_number_id}/media"): _multipart(UPLOAD),
        ("post", graph + "/{waba_id}/message_templates"): json_body(TEMPLATE),
        ("post", graph + "/{phone_number_id}/whatsapp_business_profile"): json_body(PROFILE),
    }


def query_parameters() -> dict[tuple[str, str], list[Schema]]:
    """Query parameters the routes read themselves (undeclared) or read as numbers from strings."""
    window = [
        _query("since", TIME),
        _query("until", TIME),
        _query("limit", NUMERIC),
        _query("offset", NUMERIC),
    ]
    delivery_filter = [
        _query("status", {"anyOf": [strings(*DELIVERY_STATUSES), TEXT]}),
        _query("is_success", {"anyOf": [BOOL, TEXT]}),
        _query("target_id", TEXT),
        _query("event", {"anyOf": [strings(*EVENT_TYPES), TEXT]}),
    ]
    page = [_query("limit", NUMERIC), _query("offset", NUMERIC)]
    return {
        ("get", "/v1/webhooks/deliveries"): [*delivery_filter, _query("event_id", TEXT), *window],
        ("post", "/v1/webhooks/replay"): [*delivery_filter, *window[:2]],
        ("get", "/v1/analytics/messages"): [
            _query("status", {"anyOf": [strings(*LOG_STATUSES), TEXT]}),
            *window,
        ],
        ("get", "/v1/analytics/webhooks"): window,
        ("get", "/v1/events"): [_query("event", {"anyOf": [strings(*EVENT_TYPES), TEXT]}), *window],
        ("get", "/v1/conversations"): [
            _query("status", {"anyOf": [strings(*CONVERSATION_STATUSES), TEXT]}),
            *page,
        ],
        ("get", "/v1/conversations/{conversation_id}"): page,
        ("get", "/v1/contacts"): page,
    }


def _query(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def path_values(method: str, path: str) -> dict[str, str]:
    """The bootstrapped id to offer (as a placeholder) for each path parameter of an operation.

    Operations that would end the run's meaning (revoking the key in use, disabling the channel
    that sends, an IP allowlist that locks the key out, deleting the target the rules name or the
    media the downloads use) get spare objects made for them.
    """
    spare = method == "delete" or path.endswith("/ip-allowlist")
    spare_media = "spare_graph_media_id" if path.startswith("/v{version}") else "spare_media_id"
    return {
        "version": GRAPH_VERSION,
        "phone_number_id": real("phone_number_id"),
        "waba_id": real("waba_id"),
        "media_id": real(spare_media if spare else "media_id"),
        "name": real("template_name"),
        "target_id": real("spare_target_id" if spare else "target_id"),
        "rule_id": real("spare_rule_id" if spare else "rule_id"),
        "delivery_id": real("delivery_id"),
        "event_id": real("event_id"),
        "conversation_id": real("conversation_id"),
        "project_id": real("spare_project_id"),
        "key_id": real("spare_key_id"),
        "channel_id": real("spare_channel_id"),
        "account_id": real("spare_account_id"),
        "project_slug": real("mcp_slug"),
        "link_id": real("spare_link_id" if spare else "link_id"),
        "user_id": real("spare_user_id" if spare else "user_id"),
    }


def augment(served: Schema) -> Schema:
    """The server's OpenAPI document with request bodies, undeclared parameters and real ids."""
    document = copy.deepcopy(served)
    paths = document["paths"]
    paths["/v1/mcp"] = {"post": {"operationId": "mcp", "summary": "MCP (JSON-RPC)", "responses": {}}}
    paths["/v1/mcp/{project_slug}"] = {
        "post": {
            "operationId": "dedicated_mcp",
            "summary": "A project's dedicated MCP endpoint (JSON-RPC)",
            "parameters": [{"name": "project_slug", "in": "path", "required": True}],
            "responses": {},
        }
    }
    for (method, path), body in request_bodies().items():
        paths[path][method]["requestBody"] = body
    for (method, path), parameters in query_parameters().items():
        operation = paths[path][method]
        names = {p["name"] for p in parameters}
        kept = [p for p in operation.get("parameters", []) if p["name"] not in names]
        operation["parameters"] = kept + parameters
    for path, item in paths.items():
        for method, operation in item.items():
            operation["responses"] = {"default": {"description": "any answer"}}
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if "{version}" in path and "version" not in declared:
                operation.setdefault("parameters", []).append(
                    {"name": "version", "in": "path", "required": True}
                )
            values = path_values(method, path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter["schema"] = {"anyOf": [strings(values[parameter["name"]]), TEXT]}
    document.pop("components", None)
    return document
