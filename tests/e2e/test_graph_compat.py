"""Graph-compatible mode: Meta's paths and bodies through Kirem, with a Kirem API key as the token."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.test_seed_examples import customer_writes, logs, png_bytes


def test_a_meta_sdk_works_by_changing_only_its_base_url(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="growth")
    key = auth(boot["api_key"])
    number, waba = boot["phone_number_id"], boot["waba_id"]
    customer_writes(client, boot)

    text = {
        "messaging_product": "whatsapp",
        "to": "62812345678",
        "type": "text",
        "text": {"body": "via Graph"},
    }
    sent = client.post(f"/v23.0/{number}/messages", json=text, headers=key)
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert answer["messaging_product"] == "whatsapp" and answer["messages"][0]["id"].startswith("wamid.")
    assert "status" not in answer  # Meta's body, no wrapper
    assert wait_for(lambda: logs(client, boot["api_key"], direction="outbound")["total"] == 1)

    unknown = {**text, "type": "template", "template": {"name": "nope", "language": {"code": "id"}}}
    refused = client.post(f"/v23.0/{number}/messages", json=unknown, headers=key)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == 132001
    invalid = client.post(f"/v23.0/{number}/messages", json={"type": "text"}, headers=key)
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == 100
    assert "to" in invalid.json()["error"]["error_data"]["details"]
    bad_key = client.post(f"/v23.0/{number}/messages", json=text, headers=auth("kirem_live_nope"))
    assert bad_key.status_code == 401 and bad_key.json()["error"]["code"] == 190

    templates = client.get(f"/v23.0/{waba}/message_templates", headers=key)
    assert templates.status_code == 200 and "hello_world" in {t["name"] for t in templates.json()["data"]}

    uploaded = client.post(
        f"/v23.0/{number}/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=key
    )
    assert uploaded.status_code == 200, uploaded.text
    media_id = uploaded.json()["id"]
    info = client.get(f"/v23.0/{media_id}", headers=key).json()
    assert info["mime_type"] == "image/png" and info["url"].startswith(server.url)
    assert httpx.get(info["url"], headers=key).content == png_bytes()

    profile = client.get(f"/v23.0/{number}/whatsapp_business_profile", headers=key).json()
    assert profile["data"][0]["messaging_product"] == "whatsapp"
    updated = client.post(
        f"/v23.0/{number}/whatsapp_business_profile", json={"about": "Lewat Graph"}, headers=key
    )
    assert updated.json() == {"success": True}

    assert (
        client.get("/v1/nowhere", headers=key).json()["status"] == 404
    )  # Kirem's own paths keep the wrapper
    other = server.bootstrap()
    assert client.get(f"/v23.0/{waba}/message_templates", headers=auth(other["api_key"])).status_code == 404
