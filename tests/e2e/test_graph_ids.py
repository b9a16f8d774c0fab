"""Ids that go into a Graph URL are Meta's numeric ids: anything else is a 400 and never a Graph call."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.e2e.conftest import Server, auth
from tests.e2e.test_seed_examples import png_bytes

# As sent on the wire: http.client keeps ".." and percent-escapes exactly as written (httpx would not)
HOSTILE_MEDIA_IDS = (
    "..",
    "%2E%2E",
    "1%3Ffields%3Did",
    "1%23x",
    "%01",
    "1%0D%0AX-Evil:%201",
    "%D9%A1%D9%A2%D9%A3",  # Arabic-Indic digits
    "%EF%BC%91%EF%BC%92",  # full-width digits
    "12%20",
    "1" * 65,
)


def raw_request(server: Server, method: str, path: str, key: str | None) -> tuple[int, dict[str, Any]]:
    """Send ``path`` byte for byte, with no client-side normalisation of dots or escapes."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def graph_calls(client: httpx.Client) -> float:
    """Every Graph call Kirem made so far (the sandbox's included), from /metrics."""
    text = client.get("/metrics").text
    return sum(float(v) for v in re.findall(r"^kirem_meta_calls_total\{[^}]*\} (\S+)$", text, re.M))


def test_a_media_id_that_is_not_metas_is_a_400_and_never_a_graph_call(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    uploaded = client.post(
        "/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=auth(key)
    )
    assert uploaded.status_code == 200, uploaded.text
    before = graph_calls(client)
    for media_id in HOSTILE_MEDIA_IDS:
        status, body = raw_request(server, "GET", f"/v1/media/{media_id}/download", key)
        assert status == 400, (media_id, body)
        assert body["status"] == 400 and "media_id" in body["errors"], (media_id, body)
        status, body = raw_request(server, "GET", f"/v23.0/{media_id}", key)
        assert status == 400, (media_id, body)
        error = body["error"]
        assert error["code"] == 100 and error["type"] == "GraphMethodException", (media_id, body)
        assert error["error_subcode"] == 33 and error["fbtrace_id"]
    nul = "must not contain NUL characters (\\u0000)"  # refused at the app's edge, before any route
    status, body = raw_request(server, "GET", "/v1/media/%00/download", key)
    assert status == 400 and body["errors"] == {"path": nul}, body
    status, body = raw_request(server, "GET", "/v23.0/%00", key)
    assert status == 400 and body["error"]["code"] == 100, body
    for other_path in ("a%2Fb", "..%2F..%2Fx"):  # the server decodes %2F: another path, not an id
        status, body = raw_request(server, "GET", f"/v1/media/{other_path}/download", key)
        assert status == 404 and body["message"] == "Route not found", body
        status, body = raw_request(server, "GET", f"/v23.0/{other_path}", key)
        assert status == 400 and body["error"]["code"] == 2500, body
    assert graph_calls(client) == before
    good = uploaded.json()["data"]["id"]
    assert client.get(f"/v1/media/{good}/download", headers=auth(key)).content == png_bytes()


def test_an_id_that_is_not_media_is_a_404_not_a_500(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    for other_object in (boot["phone_number_id"], boot["waba_id"]):
        download = client.get(f"/v1/media/{other_object}/download", headers=key)
        assert download.status_code == 404, download.text
        assert download.json() == {"status": 404, "message": "Media not found", "errors": {}}
    # on Graph paths a channel's phone number id is its phone number node, as at Meta; a WABA id is no media
    node = client.get(f"/v23.0/{boot['phone_number_id']}", headers=key)
    assert node.status_code == 200 and node.json()["id"] == boot["phone_number_id"], node.text
    assert "url" not in node.json()
    metadata = client.get(f"/v23.0/{boot['waba_id']}", headers=key)
    assert metadata.status_code == 404, metadata.text
    assert metadata.json()["error"]["code"] == 100 and "url" not in metadata.json()


def test_graph_object_ids_in_the_path_are_checked_before_anything_else(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    before = graph_calls(client)
    for bad in ("..", "%2E%2E", "1%3Fx%3D1", "%D9%A1%D9%A2"):
        for method, path in (
            ("POST", f"/v23.0/{bad}/messages"),
            ("POST", f"/v23.0/{bad}/media"),
            ("GET", f"/v23.0/{bad}/message_templates"),
            ("DELETE", f"/v23.0/{bad}/message_templates?name=x"),
            ("GET", f"/v23.0/{bad}/whatsapp_business_profile"),
        ):
            status, body = raw_request(server, method, path, key)
            assert status == 400, (path, body)
            assert body["error"]["code"] == 100 and body["error"]["error_subcode"] == 33, (path, body)
        status, body = raw_request(server, "POST", f"/v1/{bad}/messages", key)
        assert status == 400 and "phone_number_id" in body["errors"], (bad, body)
    for name in ("..", "x%3Fname%3Dy", "Hello", "a%0A"):
        status, body = raw_request(server, "DELETE", f"/v1/templates/{name}", key)
        assert status == 400 and "name" in body["errors"], (name, body)
    assert graph_calls(client) == before


def test_media_is_deleted_through_both_apis_and_a_deleted_id_is_gone(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])

    def upload() -> str:
        answer = client.post("/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=key)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["data"]["id"])

    first, second = upload(), upload()
    deleted = client.delete(f"/v1/media/{first}", headers=key)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "status": 200,
        "message": "Media deleted successfully",
        "data": {"success": True},
    }
    assert client.get(f"/v1/media/{first}/download", headers=key).status_code == 404
    again = client.delete(f"/v1/media/{first}", headers=key)
    assert again.status_code == 404 and again.json()["message"] == "Media not found", again.text

    graph = client.delete(f"/v23.0/{second}", headers=key)
    assert graph.status_code == 200 and graph.json() == {"success": True}, graph.text
    gone = client.delete(f"/v23.0/{second}", headers=key)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == 100, gone.text

    before = graph_calls(client)
    status, body = raw_request(server, "DELETE", "/v1/media/..", boot["api_key"])
    assert status == 400 and "media_id" in body["errors"], body
    status, body = raw_request(server, "DELETE", "/v23.0/%D9%A1", boot["api_key"])
    assert status == 400 and body["error"]["code"] == 100, body
    assert graph_calls(client) == before
