"""The sandbox's send route served at its app's edge answers what FastAPI's route answers."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.app import create_sandbox_app
from kirem.sandbox.routes import SendsAtEdge
from tests.unit.sandbox_support import bearer, running_sandbox

SEND = {
    "messaging_product": "whatsapp",
    "to": "62812345678",
    "type": "template",
    "template": {"name": "hello_world", "language": {"code": "en_US"}},
}


def _without_edge(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not SendsAtEdge]
    return app


def _comparable(response: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, redirect and body without what differs on every answer (``fbtrace_id``, the message id)."""
    if not response.content:
        return response.status_code, response.headers.get("location"), None
    body = orjson.loads(response.content)
    if "error" in body:
        body["error"].pop("fbtrace_id")
    for message in body.get("messages", []):
        message.pop("id")
    return response.status_code, response.headers.get("location"), body


async def test_the_edge_answers_sends_and_refusals_as_the_route_does(
    settings: Settings, database: Database
) -> None:
    async with running_sandbox(settings, database) as sandbox:
        number = await sandbox.provision()
        token = bearer(number.access_token)
        routed_app = _without_edge(create_sandbox_app(settings, database, http_client=sandbox.client))
        messages = f"/v23.0/{number.phone_number_id}/messages"
        cases: list[tuple[str, str, dict[str, str], bytes]] = [
            ("POST", messages, token, orjson.dumps(SEND)),
            ("POST", messages, {}, orjson.dumps(SEND)),
            ("POST", messages, bearer("wrong"), orjson.dumps(SEND)),
            ("POST", messages, token, b"[1]"),
            ("POST", messages, token, b"{not json"),
            ("POST", messages, token, orjson.dumps({**SEND, "type": "nope"})),
            ("POST", f"/23/{number.phone_number_id}/messages", token, orjson.dumps(SEND)),
            ("POST", "/v23.0/999999999999/messages", token, orjson.dumps(SEND)),
            ("POST", messages + "/", token, orjson.dumps(SEND)),
            ("POST", "/v23.0//messages", token, orjson.dumps(SEND)),
            ("GET", messages, token, b""),
        ]
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=routed_app), base_url="http://sandbox"
            ) as routed:
                for method, path, headers, body in cases:
                    at_edge = await sandbox.client.request(method, path, headers=headers, content=body)
                    through_router = await routed.request(method, path, headers=headers, content=body)
                    assert _comparable(at_edge) == _comparable(through_router), (method, path)
        finally:
            await routed_app.state.sandbox.aclose()
