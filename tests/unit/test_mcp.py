"""The MCP endpoint in process: raw JSON-RPC (docs/mcp.md), every tool, auth, errors, official clients."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import orjson
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from kirem.app import create_app
from kirem.config import Settings
from kirem.conversations import service as conversations
from kirem.customers import CustomerIds
from kirem.db.base import utcnow
from kirem.db.migrate import upgrade_async
from kirem.ratelimit import RateLimiter
from kirem.sandbox.webhooks import WebhookSender
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.models import Channel
from tests.conftest import make_settings
from tests.racing import racing_sessions
from tests.unit.conversation_support import customer_writes

CUSTOMER = "62812345678"
SEED_ID = "8a3d12d4-1a9b-4bfa-a7b3-c123456789ab"
SESSION_ID = {"type": "string", "description": "ID dari chat session/percakapan."}
SEED_SCHEMAS = {
    "list_conversations": {
        "type": "object",
        "properties": {
            "status": {
                "type": "string",
                "description": (
                    "Saring berdasarkan status percakapan (open, pending, resolved, on_hold). Opsional."
                ),
            }
        },
    },
    "get_conversation": {
        "type": "object",
        "properties": {"session_id": SESSION_ID},
        "required": ["session_id"],
    },
}
SEED_DESCRIPTIONS = {
    "send_message": "Kirim pesan WhatsApp ke session chat/percakapan tertentu.",
    "list_conversations": "Dapatkan daftar percakapan (chat sessions) aktif dalam proyek.",
    "get_conversation": "Dapatkan detail percakapan (chat session) beserta riwayat timeline pesannya.",
}
TOOLS = {
    "send_message",
    "list_conversations",
    "get_conversation",
    "list_templates",
    "view_analytics",
    "send_template",
    "update_conversation_status",
}


@dataclass
class Kirem:
    app: Any
    http: httpx.AsyncClient

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    async def project(self, plan: str = "growth", account: str | None = None) -> dict[str, Any]:
        return await bootstrap(self.ctx, account or f"acct-{uuid.uuid4().hex[:8]}", "main", plan)

    async def rpc(self, key: str, body: Any, **headers: str) -> httpx.Response:
        """A POST as a bare curl sends it: ``Content-Type`` and ``Authorization`` only."""
        request = self.http.build_request(
            "POST",
            "/v1/mcp",
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}", **headers},
        )
        if "Accept" not in headers:
            del request.headers["accept"]
        return await self.http.send(request)

    async def call(self, key: str, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": tool}, "id": 7}
        if arguments is not None:
            body["params"]["arguments"] = arguments
        response = await self.rpc(key, body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["jsonrpc"] == "2.0" and answer["id"] == 7 and "error" not in answer, answer
        return dict(answer["result"])

    async def ok(self, key: str, tool: str, arguments: dict[str, Any] | None = None) -> str:
        result = await self.call(key, tool, arguments)
        assert result["isError"] is False, result
        [content] = result["content"]
        assert content["type"] == "text"
        return str(content["text"])

    async def fails(self, key: str, tool: str, arguments: dict[str, Any] | None = None) -> str:
        result = await self.call(key, tool, arguments)
        assert result["isError"] is True, result
        [content] = result["content"]
        text = str(content["text"])
        for leak in ("Traceback", "sqlalchemy", "SELECT", "pydantic.dev", "validation error for"):
            assert leak not in text, text
        return text

    async def customer_writes(
        self,
        boot: dict[str, Any],
        text: str = "Halo, apakah produk X ready?",
        hours_ago: float = 0,
        sender: str = CUSTOMER,
    ) -> str:
        """What the inbound processor records for a customer message (the webhook path: e2e tests)."""
        at = utcnow() - timedelta(hours=hours_ago)
        return await customer_writes(self.ctx.db, boot["channel_id"], sender, text, at)

    async def owner_answers(self, boot: dict[str, Any], sender: str = CUSTOMER) -> None:
        async with self.ctx.db.transaction() as session:
            channel = await session.get(Channel, boot["channel_id"])
            await conversations.owner_wrote(session, channel, sender, 300)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan in a task of its own: the MCP SDK's task group must start and end in one task,
    and pytest runs a fixture's setup and teardown in different ones. (ASGITransport runs no lifespan.)"""
    started, stopping = asyncio.Event(), asyncio.Event()

    async def host() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stopping.wait()

    task = asyncio.create_task(host())
    ready = asyncio.create_task(started.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        ready.cancel()
        await task  # raises what went wrong at startup
    try:
        yield
    finally:
        stopping.set()
        await task


@pytest.fixture
async def kirem(tmp_path: Path, database_url: str, encryption_key: str) -> AsyncIterator[Kirem]:
    settings: Settings = make_settings(tmp_path, database_url, encryption_key, worker=False)
    await upgrade_async(settings)
    app = create_app(settings)
    sandbox = next(
        route.app for route in app.routes if getattr(route, "path", "") == "/sandbox"
    ).state.sandbox
    quiet = httpx.AsyncClient(transport=httpx.MockTransport(lambda _request: httpx.Response(200)))
    sandbox.webhooks = WebhookSender(quiet, "http://kirem/webhooks/meta", sandbox.app_secret)
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as http,
    ):
        yield Kirem(app, http)
    await quiet.aclose()


# Raw JSON-RPC, as docs/mcp.md shows it -------------------------------------------------------


async def test_tools_list_as_the_seed_shows_it(kirem: Kirem) -> None:
    boot = await kirem.project()
    response = await kirem.rpc(boot["api_key"], {"jsonrpc": "2.0", "method": "tools/list", "id": 1})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == 1
    tools = {tool["name"]: tool for tool in body["result"]["tools"]}
    assert set(tools) == TOOLS
    assert [t["name"] for t in body["result"]["tools"]][:3] == [
        "send_message",
        "list_conversations",
        "get_conversation",
    ]
    for name, description in SEED_DESCRIPTIONS.items():
        assert tools[name]["description"] == description
    for name, schema in SEED_SCHEMAS.items():
        assert tools[name]["inputSchema"] == schema
    send = tools["send_message"]["inputSchema"]
    assert send["required"] == ["session_id", "text"]
    assert send["properties"]["session_id"] == SESSION_ID
    assert send["properties"]["text"] == {
        "type": "string",
        "description": "Isi pesan teks yang ingin dikirim.",
    }
    assert send["properties"]["force"]["type"] == "boolean"
    for tool in tools.values():
        assert tool["inputSchema"]["type"] == "object" and tool["description"]
        assert "outputSchema" not in tool
    template = tools["send_template"]["inputSchema"]
    assert template["required"] == ["name", "language"]
    assert template["properties"]["parameters"]["type"] == "array"
    assert tools["update_conversation_status"]["inputSchema"]["required"] == ["session_id", "status"]


async def test_the_seed_flow_list_read_reply(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    chat_id = await kirem.customer_writes(boot)

    listed = orjson.loads(await kirem.ok(key, "list_conversations", {"status": "open"}))
    [chat] = listed
    assert chat["id"] == chat_id and chat["status"] == "open" and chat["customer_phone"] == CUSTOMER
    assert chat["updated_at"].endswith("Z") and chat["window_open"] is True
    assert orjson.loads(await kirem.ok(key, "list_conversations", {"status": "resolved"})) == []
    assert [c["id"] for c in orjson.loads(await kirem.ok(key, "list_conversations"))] == [chat_id]
    assert [c["id"] for c in orjson.loads(await kirem.ok(key, "list_conversations", {}))] == [chat_id]

    detail = orjson.loads(await kirem.ok(key, "get_conversation", {"session_id": chat_id}))
    assert detail["session"]["id"] == chat_id and detail["session"]["status"] == "open"
    [message] = detail["messages"]
    assert message["sender"] == "customer" and message["text"] == "Halo, apakah produk X ready?"
    assert {"id", "created_at", "status"} <= set(message)

    text = "Halo! Produk X saat ini ready stock. Ingin langsung kami buatkan pesanannya?"
    sent = await kirem.ok(key, "send_message", {"session_id": chat_id, "text": text})
    assert sent.startswith("Pesan berhasil dikirim. Message ID: wamid.")
    wamid = sent.rsplit(" ", 1)[1]

    detail = orjson.loads(await kirem.ok(key, "get_conversation", {"session_id": chat_id.upper()}))
    assert [(m["sender"], m["text"]) for m in detail["messages"]] == [
        ("customer", "Halo, apakah produk X ready?"),
        ("agent", text),
    ]
    assert detail["messages"][-1]["message_id"] == wamid and detail["total_messages"] == 2


async def test_a_username_only_customer_is_shown_and_answered(kirem: Kirem) -> None:
    """A customer known by BSUID and username only: agents see both and reach them by session."""
    boot = await kirem.project()
    key = boot["api_key"]
    bsuid = "US.13491208655302741918"
    chat_id = await kirem.customer_writes(boot, sender=bsuid)
    async with kirem.ctx.db.transaction() as session:
        channel = await session.get(Channel, boot["channel_id"])
        await conversations.conversation_for(session, channel, CustomerIds(user_id=bsuid, username="@sheena"))

    [chat] = orjson.loads(await kirem.ok(key, "list_conversations"))
    assert chat["id"] == chat_id and chat["customer_phone"] is None
    assert (chat["customer_user_id"], chat["customer_username"]) == (bsuid, "@sheena")
    detail = orjson.loads(await kirem.ok(key, "get_conversation", {"session_id": chat_id}))
    assert detail["session"]["customer_user_id"] == bsuid
    assert detail["session"]["customer_username"] == "@sheena"

    sent = await kirem.ok(key, "send_message", {"session_id": chat_id, "text": "Halo Sheena"})
    assert sent.startswith("Pesan berhasil dikirim. Message ID: wamid.")
    template = {"name": "hello_world", "language": "en_US", "session_id": chat_id}
    assert "wamid." in await kirem.ok(key, "send_template", template)
    detail = orjson.loads(await kirem.ok(key, "get_conversation", {"session_id": chat_id}))
    assert [m["sender"] for m in detail["messages"]] == ["customer", "agent", "agent"]
    async with kirem.ctx.db.transaction() as session:
        logs = [
            log
            for log in (
                await conversations.timeline(
                    session,
                    boot["project_id"],
                    await conversations.get_conversation(session, boot["project_id"], chat_id),
                    limit=10,
                    offset=0,
                )
            )[1]
            if log.direction == "outbound"
        ]
        assert [(log.recipient, log.recipient_user_id) for log in logs] == [("", bsuid), ("", bsuid)]


async def test_get_conversation_shows_the_last_hundred_messages_oldest_first(kirem: Kirem) -> None:
    boot = await kirem.project()
    for n in range(105):
        chat_id = await kirem.customer_writes(boot, text=f"pesan {n}", hours_ago=(105 - n) / 60)
    detail = orjson.loads(await kirem.ok(boot["api_key"], "get_conversation", {"session_id": chat_id}))
    assert detail["total_messages"] == 105
    assert [m["text"] for m in detail["messages"]] == [f"pesan {n}" for n in range(5, 105)]


async def test_get_conversation_reads_its_messages_and_their_total_together(
    kirem: Kirem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the total and the last page were two reads; a message committed between them
    left the total and the messages of two different moments."""
    boot = await kirem.project()
    written: list[str] = []

    async def commit_one() -> None:
        text = f"pesan {len(written)}"
        written.append(await kirem.customer_writes(boot, text=text, hours_ago=(1000 - len(written)) / 60))

    for _ in range(101):
        await commit_one()
    monkeypatch.setattr(kirem.ctx.db, "session", racing_sessions(kirem.ctx.db, commit_one))
    detail = orjson.loads(await kirem.ok(boot["api_key"], "get_conversation", {"session_id": written[0]}))
    total = detail["total_messages"]
    assert [m["text"] for m in detail["messages"]] == [f"pesan {n}" for n in range(total - 100, total)]


async def test_session_id_mistakes_are_tool_errors(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    other = await kirem.project()
    foreign = await kirem.customer_writes(other)
    for tool, extra in (
        ("send_message", {"text": "halo"}),
        ("get_conversation", {}),
        ("update_conversation_status", {"status": "resolved"}),
    ):
        text = await kirem.fails(key, tool, {"session_id": "abc", **extra})
        assert "session_id must be a conversation UUID" in text and "list_conversations" in text
        for unknown in (SEED_ID, foreign):
            text = await kirem.fails(key, tool, {"session_id": unknown, **extra})
            assert text == (
                f"Conversation not found: there is no chat session {unknown} in this project. "
                "Call list_conversations to see the sessions and their ids."
            )
    # the other project still sees its own conversation
    assert orjson.loads(await kirem.ok(other["api_key"], "get_conversation", {"session_id": foreign}))


async def test_argument_mistakes_are_short_tool_errors(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    chat_id = await kirem.customer_writes(boot)
    missing = await kirem.fails(key, "send_message", {"session_id": chat_id})
    assert missing.startswith("Invalid arguments for send_message: text: Field required")
    assert "Invalid arguments for get_conversation" in await kirem.fails(key, "get_conversation")
    wrong_type = await kirem.fails(key, "send_message", {"session_id": chat_id, "text": {"body": "x"}})
    assert "text" in wrong_type
    unknown = await kirem.fails(key, "delete_everything", {})
    assert unknown.startswith("Unknown tool 'delete_everything'. Available tools: send_message")
    long = await kirem.fails(key, "send_message", {"session_id": chat_id, "text": "x" * 4097})
    assert "4097 characters" in long and "at most 4096" in long
    assert "must not be empty" in await kirem.fails(
        key, "send_message", {"session_id": chat_id, "text": "  "}
    )
    ok = await kirem.ok(key, "send_message", {"session_id": chat_id, "text": "x" * 4096})
    assert ok.startswith("Pesan berhasil dikirim")


async def test_closed_window_and_handover_explain_what_to_do(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    old = await kirem.customer_writes(boot, hours_ago=25, sender="62811110000")
    closed = await kirem.fails(key, "send_message", {"session_id": old, "text": "halo"})
    assert "24-hour" in closed and "131047" in closed and "send_template with this session_id" in closed
    template = await kirem.ok(
        key, "send_template", {"name": "hello_world", "language": "en_US", "session_id": old}
    )
    assert template.startswith("Pesan berhasil dikirim. Message ID: wamid.")

    chat_id = await kirem.customer_writes(boot)
    await kirem.owner_answers(boot)
    held = await kirem.fails(key, "send_message", {"session_id": chat_id, "text": "halo"})
    assert "WhatsApp Business app" in held and "force: true" in held
    view = orjson.loads(await kirem.ok(key, "get_conversation", {"session_id": chat_id}))
    assert view["session"]["human_active_until"]
    forced = await kirem.ok(key, "send_message", {"session_id": chat_id, "text": "halo", "force": True})
    assert forced.startswith("Pesan berhasil dikirim")


async def test_update_conversation_status(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    chat_id = await kirem.customer_writes(boot)
    done = await kirem.ok(key, "update_conversation_status", {"session_id": chat_id, "status": "resolved"})
    assert done == f"Status percakapan {chat_id} berhasil diubah menjadi resolved."
    assert orjson.loads(await kirem.ok(key, "list_conversations", {"status": "open"})) == []
    [chat] = orjson.loads(await kirem.ok(key, "list_conversations", {"status": "resolved"}))
    assert chat["id"] == chat_id
    bad = await kirem.fails(key, "update_conversation_status", {"session_id": chat_id, "status": "closed"})
    assert bad == "status must be one of open, pending, resolved, on_hold; got 'closed'"
    listing = await kirem.fails(key, "list_conversations", {"status": "archived"})
    assert "status must be one of open, pending, resolved, on_hold" in listing


async def test_templates_list_and_send(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    listed = orjson.loads(await kirem.ok(key, "list_templates"))
    assert [(t["name"], t["status"], t["language"]) for t in listed] == [("hello_world", "APPROVED", "en_US")]
    assert orjson.loads(await kirem.ok(key, "list_templates", {"status": "rejected"})) == []
    assert "status" in await kirem.fails(key, "list_templates", {"status": "LOST"})

    sent = await kirem.ok(
        key, "send_template", {"name": "hello_world", "language": "en_US", "to": "62899990000"}
    )
    assert sent.startswith("Pesan berhasil dikirim. Message ID: wamid.")
    logs = (await kirem.http.get("/v1/analytics/messages", headers={"Authorization": f"Bearer {key}"})).json()
    [log] = logs["data"]["logs"]
    assert log["recipient"] == "62899990000" and log["type"] == "template"

    both = await kirem.fails(
        key,
        "send_template",
        {"name": "hello_world", "language": "en_US", "to": "62899990000", "session_id": SEED_ID},
    )
    assert "exactly one of session_id" in both
    assert "exactly one of session_id" in await kirem.fails(
        key, "send_template", {"name": "hello_world", "language": "en_US"}
    )
    unknown = await kirem.fails(
        key, "send_template", {"name": "no_such", "language": "id", "to": "62899990000"}
    )
    assert unknown.startswith("WhatsApp (Meta) refused the request:")
    extra = await kirem.fails(
        key,
        "send_template",
        {"name": "hello_world", "language": "en_US", "to": "62899990000", "parameters": ["Budi"]},
    )
    assert "Meta" in extra


async def test_send_template_to_a_bsuid_recipient(kirem: Kirem) -> None:
    boot = await kirem.project()
    key = boot["api_key"]
    bsuid = "US.13491208655302741918"
    hello = {"name": "hello_world", "language": "en_US"}
    sent = await kirem.ok(key, "send_template", {**hello, "recipient": bsuid})
    assert sent.startswith("Pesan berhasil dikirim. Message ID: wamid.")
    logs = (await kirem.http.get("/v1/analytics/messages", headers={"Authorization": f"Bearer {key}"})).json()
    [log] = logs["data"]["logs"]
    assert (log["recipient"], log["recipient_user_id"], log["type"]) == ("", bsuid, "template")

    both = await kirem.fails(
        key, "send_template", {"name": "hello_world", "language": "en_US", "to": "628999", "recipient": bsuid}
    )
    assert "exactly one of session_id" in both and "recipient" in both
    malformed = await kirem.fails(
        key, "send_template", {"name": "hello_world", "language": "en_US", "recipient": "US.12 34"}
    )
    assert "recipient" in malformed and "business-scoped user id" in malformed


async def test_view_analytics_counts_and_is_plan_gated(kirem: Kirem) -> None:
    boot = await kirem.project(plan="growth")
    key = boot["api_key"]
    chat_id = await kirem.customer_writes(boot)
    await kirem.ok(key, "send_message", {"session_id": chat_id, "text": "halo"})
    await kirem.ok(key, "send_template", {"name": "hello_world", "language": "en_US", "to": "62899990000"})
    stats = orjson.loads(await kirem.ok(key, "view_analytics"))
    assert stats["inbound"] == 1
    assert stats["outbound"]["total"] == 2 and stats["outbound"]["failed"] == 0
    assert sum(stats["outbound_by_current_status"].values()) == 2
    [today] = stats["daily"]
    assert today["date"] == utcnow().strftime("%Y-%m-%d") and today["inbound"] == 1 and today["outbound"] == 2
    assert stats["period"]["since"].endswith("Z") and stats["period"]["until"].endswith("Z")
    later = orjson.loads(
        await kirem.ok(key, "view_analytics", {"since": "2020-01-01", "until": "2020-01-02"})
    )
    assert later["inbound"] == 0 and later["daily"] == []
    assert orjson.loads(await kirem.ok(key, "view_analytics", {"since": "24h"}))["inbound"] == 1
    bad = await kirem.fails(key, "view_analytics", {"since": "last tuesday"})
    assert "since must be an ISO 8601 date" in bad
    assert "since must not be after until" in await kirem.fails(
        key, "view_analytics", {"since": "2026-02-01", "until": "2026-01-01"}
    )

    free = await kirem.project(plan="developer")
    gated = await kirem.fails(free["api_key"], "view_analytics")
    assert "not part of the developer plan" in gated and "growth plan" in gated


async def test_unexpected_failures_are_an_internal_error_with_the_request_id(
    kirem: Kirem, monkeypatch: pytest.MonkeyPatch
) -> None:
    boot = await kirem.project()

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(conversations, "list_conversations", broken)
    response = await kirem.rpc(
        boot["api_key"],
        {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "list_conversations"}, "id": 9},
        **{"X-Request-Id": "req-mcp-test-1"},
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True
    assert result["content"][0]["text"] == "internal error, request id req-mcp-test-1"


# HTTP: auth, headers, JSON-RPC errors, paths ----------------------------------------------------


async def test_auth_is_checked_before_any_tool(kirem: Kirem) -> None:
    body = {"jsonrpc": "2.0", "method": "tools/list", "id": 1}
    missing = await kirem.http.post("/v1/mcp", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["status"] == 401 and missing.json()["message"] == "Missing API key"
    assert "errors" in missing.json()
    bad = await kirem.rpc("kirem_live_nope", body)
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    assert bad.json() == {
        "status": 401,
        "message": "Invalid or revoked API key",
        "errors": {"authorization": "the key is unknown or has been revoked"},
    }
    account_token = (await kirem.project())["account_token"]
    assert (await kirem.rpc(account_token, body)).status_code == 401


async def test_rate_limit_applies(kirem: Kirem) -> None:
    boot = await kirem.project()
    kirem.ctx.limiter = RateLimiter(0.001, burst=1, clock=lambda: 100.0)
    body = {"jsonrpc": "2.0", "method": "tools/list", "id": 1}
    assert (await kirem.rpc(boot["api_key"], body)).status_code == 200
    limited = await kirem.rpc(boot["api_key"], body)
    assert limited.status_code == 429 and limited.json()["status"] == 429 and limited.headers["retry-after"]


async def test_accept_headers_and_exact_path(kirem: Kirem) -> None:
    key = (await kirem.project())["api_key"]
    body = {"jsonrpc": "2.0", "method": "tools/list", "id": "a"}
    for accept in (
        {},
        {"Accept": "*/*"},
        {"Accept": "application/json"},
        {"Accept": "application/json, text/event-stream"},
    ):
        response = await kirem.rpc(key, body, **accept)
        assert response.status_code == 200, (accept, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["id"] == "a" and len(response.json()["result"]["tools"]) == 7
    refused = await kirem.rpc(key, body, Accept="text/html")
    assert refused.status_code == 406 and refused.json()["error"]["code"] == -32600
    request = kirem.http.build_request(
        "POST", "/v1/mcp", content=orjson.dumps(body), headers={"Authorization": f"Bearer {key}"}
    )
    del request.headers["accept"]
    assert "content-type" not in request.headers
    bare = await kirem.http.send(request)  # Go's net/http without headers: still JSON
    assert bare.status_code == 200 and bare.json()["id"] == "a"
    get = await kirem.http.get("/v1/mcp", headers={"Authorization": f"Bearer {key}"})
    assert get.status_code == 405 and get.json()["status"] == 405 and "POST" in get.headers["allow"]
    exact = await kirem.rpc(key, body)
    assert exact.status_code == 200 and exact.json()["id"] == "a"  # answered in place, no 307
    slash = await kirem.http.post("/v1/mcp/", json=body, headers={"Authorization": f"Bearer {key}"})
    assert slash.status_code == 200 and slash.json()["id"] == "a"


async def test_jsonrpc_errors(kirem: Kirem) -> None:
    key = (await kirem.project())["api_key"]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    malformed = await kirem.http.post("/v1/mcp", content=b'{"jsonrpc": "2.0", "method": ', headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["jsonrpc"] == "2.0" and malformed.json()["error"]["code"] == -32700
    unknown = await kirem.rpc(key, {"jsonrpc": "2.0", "method": "tools/explode", "id": 3})
    assert unknown.status_code == 200
    assert unknown.json()["id"] == 3 and unknown.json()["error"]["code"] == -32601
    no_params = await kirem.rpc(key, {"jsonrpc": "2.0", "method": "tools/call", "id": 4})
    assert no_params.json()["id"] == 4 and no_params.json()["error"]["code"] == -32602
    batch = await kirem.rpc(key, [{"jsonrpc": "2.0", "method": "tools/list", "id": 1}])
    assert batch.status_code == 400 and batch.json()["error"]["code"] == -32600
    not_rpc = await kirem.rpc(key, {"hello": "world"})
    assert not_rpc.status_code == 400 and "error" in not_rpc.json()
    notification = await kirem.rpc(key, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert notification.status_code == 202
    ping = await kirem.rpc(key, {"jsonrpc": "2.0", "method": "ping", "id": 5})
    assert ping.json() == {"jsonrpc": "2.0", "id": 5, "result": {}}


async def test_a_body_declared_as_another_content_type_is_a_jsonrpc_error(kirem: Kirem) -> None:
    key = (await kirem.project())["api_key"]
    body = {"jsonrpc": "2.0", "method": "tools/list", "id": 1}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        refused = await kirem.rpc(key, body, **{"Content-Type": content_type})
        assert refused.status_code == 415, (content_type, refused.text)
        assert refused.json()["jsonrpc"] == "2.0" and refused.json()["error"]["code"] == -32600
        assert "application/json" in refused.json()["error"]["message"]
    charset = await kirem.rpc(key, body, **{"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 200 and len(charset.json()["result"]["tools"]) == 7


async def test_initialize_then_tools_over_raw_posts(kirem: Kirem) -> None:
    key = (await kirem.project())["api_key"]
    init = await kirem.rpc(
        key,
        {
            "jsonrpc": "2.0",
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "curl", "version": "1"},
            },
            "id": 0,
        },
    )
    assert init.status_code == 200
    result = init.json()["result"]
    assert result["serverInfo"]["name"] == "kirem" and result["protocolVersion"] == "2025-06-18"
    assert "tools" in result["capabilities"] and "mcp-session-id" not in init.headers


async def test_the_seed_shorthand_call(kirem: Kirem) -> None:
    boot = await kirem.project()
    chat_id = await kirem.customer_writes(boot)
    response = await kirem.rpc(
        boot["api_key"], {"method": "tools/call", "tool": "list_conversations", "status": "open"}
    )
    assert response.status_code == 200, response.text
    [chat] = orjson.loads(response.json()["result"]["content"][0]["text"])
    assert chat["id"] == chat_id


# The official MCP client -----------------------------------------------------------------------


async def test_official_client_initializes_lists_and_calls(kirem: Kirem) -> None:
    boot = await kirem.project()
    chat_id = await kirem.customer_writes(boot)
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=kirem.app),
        base_url="http://kirem",
        headers={"Authorization": f"Bearer {boot['api_key']}"},
    )
    async with (
        http,
        streamable_http_client("http://kirem/v1/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        info = await session.initialize()
        assert info.server_info.name == "kirem"
        listed = await session.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        result = await session.call_tool("list_conversations", {"status": "open"})
        assert result.is_error is False
        assert orjson.loads(result.content[0].text)[0]["id"] == chat_id  # type: ignore[union-attr]
        sent = await session.call_tool("send_message", {"session_id": chat_id, "text": "Siap kak"})
        assert sent.content[0].text.startswith("Pesan berhasil dikirim. Message ID: wamid.")  # type: ignore[union-attr]
        bad = await session.call_tool("get_conversation", {"session_id": "nope"})
        assert bad.is_error is True and "UUID" in bad.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_official_high_level_client_in_both_protocol_eras(kirem: Kirem, mode: str) -> None:
    """``auto`` probes ``server/discover`` (the 2026-07-28 per-request era); ``legacy`` initializes."""
    boot = await kirem.project()
    chat_id = await kirem.customer_writes(boot)
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=kirem.app),
        base_url="http://kirem",
        headers={"Authorization": f"Bearer {boot['api_key']}"},
    )
    async with (
        http,
        Client(streamable_http_client("http://kirem/v1/mcp", http_client=http), mode=mode) as client,
    ):
        assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
        result = await client.call_tool("get_conversation", {"session_id": chat_id})
        assert result.is_error is False
        assert orjson.loads(result.content[0].text)["session"]["id"] == chat_id  # type: ignore[union-attr]
