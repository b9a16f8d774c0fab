"""Routes the app's edge serves itself (:class:`kirem.api.middleware.DirectRoute`): the requests they
take, and a send answered there as FastAPI's route would answer it."""

from __future__ import annotations

from typing import Any

import httpx

from kirem.api.middleware import DirectRoute
from kirem.messaging.routes import SENDS
from kirem.meta.ids import is_graph_id
from tests.unit.test_live_channels import PHONE_NUMBER_ID, live  # noqa: F401  (fixture)

BODY = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}


def test_a_direct_route_takes_only_the_requests_its_declared_path_matches() -> None:
    route = DirectRoute("POST", "/v1/{phone_number_id}/messages", SENDS[0].app, accepts=is_graph_id)
    assert route.params("POST", "/v1/123/messages") == {"phone_number_id": "123"}
    for method, path in [
        ("GET", "/v1/123/messages"),
        ("POST", "/v1/abc/messages"),  # FastAPI's route answers its 400
        ("POST", "/v1//messages"),
        ("POST", "/v1/123/messages/"),
        ("POST", "/v1/messages"),
        ("POST", "/v1/123/messages/read"),
    ]:
        assert route.params(method, path) is None, (method, path)
    assert DirectRoute("POST", "/v1/messages", SENDS[0].app).params("POST", "/v1/messages") == {}


async def test_sends_at_the_edge_answer_as_the_declared_routes(live: Any) -> None:  # noqa: F811
    client, meta, boot = live
    auth = {"Authorization": f"Bearer {boot['api_key']}"}
    sent = await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=BODY, headers=auth)
    assert sent.status_code == 201
    assert sent.json()["data"]["messages"] == [{"id": "wamid.LIVE1"}]
    assert sent.headers["x-request-id"]

    missing = await client.post("/v1/messages", json=BODY)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["message"] == "Missing API key"

    not_an_id = await client.post("/v1/abc/messages", json=BODY, headers=auth)
    assert not_an_id.status_code == 400
    assert not_an_id.json()["errors"] == {"phone_number_id": "must be Meta's numeric phone number id"}

    nul = await client.post("/v1/messages", json={**BODY, "text": {"body": "a\x00b"}}, headers=auth)
    assert nul.status_code == 400
    assert nul.json()["errors"] == {"text.body": "must not contain NUL characters (\\u0000)"}

    meta.reply = httpx.ConnectTimeout("timed out")
    unavailable = await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=BODY, headers=auth)
    assert unavailable.status_code == 502
    assert unavailable.json()["message"] == "Meta API is unavailable, try again"
    assert len(meta.requests) == 2
