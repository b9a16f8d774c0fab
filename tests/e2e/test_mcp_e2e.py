"""MCP through the real server: an agent's flow with raw POSTs, and with the official MCP client."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import httpx2
import orjson
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.test_seed_examples import customer_writes

QUESTION = "Halo, apakah produk X ready?"
ANSWER = "Halo! Produk X saat ini ready stock. Ingin langsung kami buatkan pesanannya?"


def rpc(client: httpx.Client, key: str, body: Any, accept: str | None = None) -> httpx.Response:
    """A POST as a bare curl sends it: ``Content-Type`` and ``Authorization``, no ``Accept``."""
    headers = {"Content-Type": "application/json", **auth(key)}
    request = client.build_request("POST", "/v1/mcp", content=orjson.dumps(body), headers=headers)
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    return client.send(request)


def tool_call(
    client: httpx.Client, key: str, name: str, arguments: dict[str, Any], rpc_id: int = 2
) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
        "id": rpc_id,
    }
    response = rpc(client, key, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] == rpc_id, answer
    return dict(answer["result"])


def tool_text(client: httpx.Client, key: str, name: str, arguments: dict[str, Any]) -> str:
    result = tool_call(client, key, name, arguments)
    assert result["isError"] is False, result
    return str(result["content"][0]["text"])


def open_chats(client: httpx.Client, key: str, customer: str) -> list[dict[str, Any]]:
    chats = orjson.loads(tool_text(client, key, "list_conversations", {"status": "open"}))
    return [chat for chat in chats if chat["customer_phone"] == customer]


def test_the_seed_agent_flow_with_raw_posts(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    customer = "6281" + str(uuid.uuid4().int)[:8]

    listed = rpc(client, key, {"jsonrpc": "2.0", "method": "tools/list", "id": 1})
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
    assert [t["name"] for t in listed.json()["result"]["tools"]][:3] == [
        "send_message",
        "list_conversations",
        "get_conversation",
    ]

    # Tahap 1: cek pesan masuk
    customer_writes(client, boot, sender=customer, text=QUESTION)
    [chat] = wait_for(lambda: open_chats(client, key, customer))
    assert chat["status"] == "open" and chat["updated_at"].endswith("Z")
    uuid.UUID(chat["id"])

    # Tahap 2: tarik konteks obrolan
    detail = orjson.loads(tool_text(client, key, "get_conversation", {"session_id": chat["id"]}))
    assert detail["session"]["id"] == chat["id"] and detail["session"]["status"] == "open"
    assert [(m["sender"], m["text"]) for m in detail["messages"]] == [("customer", QUESTION)]

    # Tahap 3: kirim balasan
    sent = tool_text(client, key, "send_message", {"session_id": chat["id"], "text": ANSWER})
    assert sent.startswith("Pesan berhasil dikirim. Message ID: wamid.")
    wamid = sent.rsplit(" ", 1)[1]

    def read_in_timeline() -> list[dict[str, Any]] | None:
        messages = orjson.loads(tool_text(client, key, "get_conversation", {"session_id": chat["id"]}))[
            "messages"
        ]
        return messages if messages[-1]["status"] == "read" else None

    messages = wait_for(read_in_timeline)
    assert messages, "the delivery statuses never reached the timeline"
    assert [(m["sender"], m["text"]) for m in messages] == [("customer", QUESTION), ("agent", ANSWER)]
    assert messages[-1]["message_id"] == wamid

    stats = orjson.loads(tool_text(client, key, "view_analytics", {"since": "1d"}))
    assert stats["inbound"] >= 1 and stats["outbound"]["read"] >= 1

    bad = tool_call(client, key, "send_message", {"session_id": "not-a-uuid", "text": "x"})
    assert bad["isError"] is True and "UUID" in bad["content"][0]["text"]
    foreign = server.bootstrap(plan="growth")
    hidden = tool_call(client, foreign["api_key"], "get_conversation", {"session_id": chat["id"]})
    assert hidden["isError"] is True and hidden["content"][0]["text"].startswith("Conversation not found")

    done = tool_text(
        client, key, "update_conversation_status", {"session_id": chat["id"], "status": "resolved"}
    )
    assert "resolved" in done and open_chats(client, key, customer) == []


def test_owner_on_the_phone_holds_the_agent_back(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    customer = "6282" + str(uuid.uuid4().int)[:8]
    customer_writes(client, boot, sender=customer, text="halo")
    [chat] = wait_for(lambda: open_chats(client, key, customer))
    echo = {
        "phone_number_id": boot["phone_number_id"],
        "to": customer,
        "message": {"type": "text", "text": {"body": "saya jawab"}},
    }
    assert client.post("/sandbox/v1/echo", json=echo).status_code == 200

    def held() -> str | None:
        result = tool_call(client, key, "send_message", {"session_id": chat["id"], "text": "dari agent"})
        return str(result["content"][0]["text"]) if result["isError"] else None

    text = wait_for(held)
    assert text and "WhatsApp Business app" in text and "force: true" in text
    forced = tool_text(
        client, key, "send_message", {"session_id": chat["id"], "text": "dari agent", "force": True}
    )
    assert forced.startswith("Pesan berhasil dikirim")


def test_http_details_on_the_real_server(server: Server, client: httpx.Client) -> None:
    key = server.bootstrap(plan="developer")["api_key"]
    body = {"jsonrpc": "2.0", "method": "tools/list", "id": 1}
    missing = client.post("/v1/mcp", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["status"] == 401 and "errors" in missing.json()
    assert rpc(client, "kirem_live_unknown", body).status_code == 401
    for accept in (None, "*/*", "application/json, text/event-stream"):
        response = rpc(client, key, body, accept=accept)
        assert response.status_code == 200 and len(response.json()["result"]["tools"]) == 7, response.text
        assert response.headers["x-request-id"]
    malformed = client.post(
        "/v1/mcp", content=b"{oops", headers={**auth(key), "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == -32700
    unknown = rpc(client, key, {"jsonrpc": "2.0", "method": "resources/explode", "id": 5})
    assert unknown.json()["error"]["code"] == -32601
    gated = tool_call(client, key, "view_analytics", {})
    assert gated["isError"] is True and "growth plan" in gated["content"][0]["text"]


async def test_the_official_mcp_client_over_http(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="growth")
    customer = "6283" + str(uuid.uuid4().int)[:8]
    customer_writes(client, boot, sender=customer, text=QUESTION)
    [chat] = wait_for(lambda: open_chats(client, boot["api_key"], customer))
    http = httpx2.AsyncClient(headers=auth(boot["api_key"]), timeout=30)
    async with (
        http,
        streamable_http_client(f"{server.url}/v1/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        info = await session.initialize()
        assert info.server_info.name == "kirem"
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert tools["send_message"].input_schema["required"] == ["session_id", "text"]
        listed = await session.call_tool("list_conversations", {"status": "open"})
        assert chat["id"] in {c["id"] for c in orjson.loads(listed.content[0].text)}  # type: ignore[union-attr]
        detail = await session.call_tool("get_conversation", {"session_id": chat["id"]})
        assert orjson.loads(detail.content[0].text)["messages"][0]["text"] == QUESTION  # type: ignore[union-attr]
        sent = await session.call_tool("send_message", {"session_id": chat["id"], "text": ANSWER})
        assert sent.is_error is False
        assert sent.content[0].text.startswith("Pesan berhasil dikirim. Message ID: wamid.")  # type: ignore[union-attr]
        refused = await session.call_tool("get_conversation", {"session_id": str(uuid.uuid4())})
        assert refused.is_error is True

    # the default high-level client probes the 2026-07-28 era first
    http = httpx2.AsyncClient(headers=auth(boot["api_key"]), timeout=30)
    async with http, Client(streamable_http_client(f"{server.url}/v1/mcp", http_client=http)) as mcp_client:
        detail = await mcp_client.call_tool("get_conversation", {"session_id": chat["id"]})
        senders = [m["sender"] for m in orjson.loads(detail.content[0].text)["messages"]]  # type: ignore[union-attr]
        assert senders == ["customer", "agent"]
