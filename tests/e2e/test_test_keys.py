"""A test key (``kirem_test_…``) never reaches Meta through a live channel, whichever route it takes.

The server's ``KIREM_META_GRAPH_URL`` points at a stand-in Graph API on loopback that records every
request: a live key's calls reach it (so the setup would reach Meta), a test key's never do.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirem.meta.signatures import sign
from tests.conftest import ENGINES, create_postgres_database, drop_postgres_database
from tests.e2e.conftest import Server, auth, start_server, stop_server, wait_for
from tests.e2e.test_mcp_e2e import tool_call

OPERATOR = {"Authorization": "Bearer operator-e2e"}
CUSTOMER = "62812345678"
MEDIA_ID = "987654321012345"


@dataclass
class StandInGraph:
    """Answers like graph.facebook.com (just enough) and records who asked what."""

    url: str = ""
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, authorization: str) -> None:
        with self.lock:
            self.calls.append((method, path, authorization))

    def taken(self) -> list[tuple[str, str, str]]:
        with self.lock:
            calls, self.calls = self.calls, []
            return calls


def answer_for(method: str, path: str) -> dict[str, Any]:
    if path.endswith("/messages"):
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
            "messages": [{"id": f"wamid.LIVE{uuid.uuid4().hex}"}],
        }
    if path.endswith("/media"):
        return {"id": MEDIA_ID}
    if path.endswith("/message_templates") and method == "GET":
        return {"data": []}
    if path.endswith("/message_templates") and method == "POST":
        return {"id": "1", "status": "PENDING", "category": "UTILITY"}
    if path.endswith("/whatsapp_business_profile") and method == "GET":
        return {"data": [{"about": "live", "messaging_product": "whatsapp"}]}
    if path.endswith(f"/{MEDIA_ID}"):
        return {"url": "http://127.0.0.1:9/blob", "mime_type": "image/png", "id": MEDIA_ID}
    return {"success": True}


@pytest.fixture(scope="module")
def graph() -> Iterator[StandInGraph]:
    stand_in = StandInGraph()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            stand_in.record(self.command, self.path, self.headers.get("authorization", ""))
            body = json.dumps(answer_for(self.command, self.path.split("?")[0])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    http.shutdown()
    http.server_close()


@pytest.fixture(scope="module", params=ENGINES)
async def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, graph: StandInGraph
) -> Any:
    tmp: Path = tmp_path_factory.mktemp(f"test-keys-{request.param}")
    url = (
        f"sqlite+aiosqlite:///{tmp / 'kirem.db'}"
        if request.param == "sqlite"
        else await create_postgres_database()
    )
    process, server = start_server(tmp, url, KIREM_META_GRAPH_URL=graph.url)
    try:
        yield server
    finally:
        stop_server(process)
        if request.param != "sqlite":
            await drop_postgres_database(url)


@dataclass
class LiveProject:
    live_key: str
    test_key: str
    phone_number_id: str
    waba_id: str
    conversation_id: str


def customer_writes_to_live_number(client: httpx.Client, phone_number_id: str, waba_id: str) -> None:
    """Meta delivers a customer message for the live number (signed with the app secret)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": CUSTOMER}],
        "messages": [
            {
                "from": CUSTOMER,
                "id": f"wamid.IN{uuid.uuid4().hex}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": "Halo"},
            }
        ],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}],
    }
    body = json.dumps(envelope).encode()
    answer = client.post(
        "/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sign("meta-app-secret-e2e", body)}
    )
    assert answer.status_code == 200, answer.text


def live_project(client: httpx.Client, graph: StandInGraph) -> LiveProject:
    """A growth account whose project's only channel is live, with a live and a test key."""
    name = f"live-{uuid.uuid4().hex[:8]}"
    created = client.post("/v1/operator/accounts", json={"name": name, "plan": "growth"}, headers=OPERATOR)
    token = auth(created.json()["data"]["account_token"])
    project = client.post("/v1/manage/projects", json={"name": "main"}, headers=token).json()["data"]
    base = f"/v1/manage/projects/{project['id']}"
    number = str(106540000000000 + uuid.uuid4().int % 10**12)
    waba = str(102290000000000 + uuid.uuid4().int % 10**12)
    channel = client.post(
        f"{base}/channels",
        json={"kind": "live", "phone_number_id": number, "waba_id": waba, "access_token": "EAAG-live-token"},
        headers=token,
    )
    assert channel.status_code == 201, channel.text
    keys = [
        client.post(f"{base}/keys", json={"mode": mode}, headers=token).json()["data"]["key"]
        for mode in ("live", "test")
    ]
    customer_writes_to_live_number(client, number, waba)

    def conversation() -> str | None:
        listed = client.get("/v1/conversations", headers=auth(keys[0])).json()["data"]["conversations"]
        return listed[0]["id"] if listed else None

    conversation_id = wait_for(conversation)
    assert conversation_id, "the inbound message did not open a conversation"
    graph.taken()
    return LiveProject(keys[0], keys[1], number, waba, conversation_id)


def text(body: str = "Halo") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": body}}


def refused(response: httpx.Response) -> bool:
    """403 in Kirem's wrapper (or Meta's error body on Graph-compatible paths), naming the rule."""
    if response.status_code != 403:
        return False
    body = response.json()
    message = body["error"]["message"] if "error" in body else body["message"]
    return "Test keys" in message


def test_a_live_key_reaches_the_stand_in_graph(live_server: Server, graph: StandInGraph) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        project = live_project(client, graph)
        reply = client.post(
            f"/v1/conversations/{project.conversation_id}/messages",
            json={"text": "Halo"},
            headers=auth(project.live_key),
        )
        assert reply.status_code == 201, reply.text
        [(method, path, authorization)] = graph.taken()
        assert (method, path) == ("POST", f"/v23.0/{project.phone_number_id}/messages")
        assert authorization == "Bearer EAAG-live-token"


def test_a_test_key_never_reaches_meta_through_a_live_channel(
    live_server: Server, graph: StandInGraph
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        project = live_project(client, graph)
        live, key = auth(project.live_key), auth(project.test_key)
        uploaded = client.post(
            "/v1/media", files={"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}, headers=live
        )
        assert uploaded.status_code == 200 and uploaded.json()["data"]["id"] == MEDIA_ID, uploaded.text
        graph.taken()
        number, waba = project.phone_number_id, project.waba_id
        conversation = f"/v1/conversations/{project.conversation_id}/messages"
        template = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
        read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
        new_template = {
            "name": "order_update",
            "category": "UTILITY",
            "language": "id",
            "components": [{"type": "BODY", "text": "Pesanan Anda sudah dikirim."}],
        }
        png = {"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}
        answers = {
            "conversation reply": client.post(conversation, json={"text": "Halo"}, headers=key),
            "conversation template": client.post(conversation, json=template, headers=key),
            "/v1/messages": client.post("/v1/messages", json=text(), headers=key),
            "/v1/{number}/messages": client.post(f"/v1/{number}/messages", json=text(), headers=key),
            "read receipt": client.post("/v1/messages/read", json={"message_id": "wamid.IN1"}, headers=key),
            "read via send": client.post(f"/v1/{number}/messages", json=read, headers=key),
            "graph send": client.post(f"/v23.0/{number}/messages", json=text(), headers=key),
            "media upload": client.post("/v1/media", files=png, headers=key),
            "media download": client.get(f"/v1/media/{MEDIA_ID}/download", headers=key),
            "graph media upload": client.post(f"/v23.0/{number}/media", files=png, headers=key),
            "graph media metadata": client.get(f"/v23.0/{MEDIA_ID}", headers=key),
            "templates": client.get("/v1/templates", headers=key),
            "template create": client.post("/v1/templates", json=new_template, headers=key),
            "template delete": client.delete("/v1/templates/order_update", headers=key),
            "graph templates": client.get(f"/v23.0/{waba}/message_templates", headers=key),
            "profile": client.get("/v1/profile", headers=key),
            "profile update": client.post("/v1/profile", json={"about": "x"}, headers=key),
            "graph profile": client.get(f"/v23.0/{number}/whatsapp_business_profile", headers=key),
        }
        assert {route: r.text for route, r in answers.items() if not refused(r)} == {}
        tools = {
            "send_message": {"session_id": project.conversation_id, "text": "Halo"},
            "send_template (session)": {
                "session_id": project.conversation_id,
                "name": "hello_world",
                "language": "en_US",
            },
            "send_template (to)": {"to": CUSTOMER, "name": "hello_world", "language": "en_US"},
            "list_templates": {},
        }
        results = {
            name: tool_call(client, project.test_key, name.split(" ")[0], a) for name, a in tools.items()
        }
        assert {
            name: result
            for name, result in results.items()
            if not (result["isError"] and "Test keys" in result["content"][0]["text"])
        } == {}
        assert graph.taken() == []
        logs = client.get("/v1/analytics/messages?direction=outbound", headers=live).json()["data"]
        assert logs["total"] == 0, logs
        usage = client.get("/v1/conversations", headers=live).json()["data"]["conversations"]
        assert usage[0]["id"] == project.conversation_id


def test_a_test_key_does_not_replay_a_live_keys_send(live_server: Server, graph: StandInGraph) -> None:
    """A live key's stored answer is not handed to a test key as if its own send had gone to Meta."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        project = live_project(client, graph)
        path = f"/v1/{project.phone_number_id}/messages"
        once = {"Idempotency-Key": str(uuid.uuid4())}
        sent = client.post(path, json=text(), headers={**auth(project.live_key), **once})
        assert sent.status_code == 201, sent.text
        assert len(graph.taken()) == 1
        again = client.post(path, json=text(), headers={**auth(project.test_key), **once})
        assert again.status_code == 422 and "idempotent-replayed" not in again.headers, again.text
        assert graph.taken() == []
