"""Graph-compatible mode: Meta's paths and bodies through Kirem, with a Kirem API key as the token."""

from __future__ import annotations

from typing import Any

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
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == 131008  # to is missing
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


def assert_meta_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """Meta's error body, not Kirem's wrapper: ``{"error": {message, type, code, fbtrace_id}}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"] and error["type"], body
    assert error["fbtrace_id"] == response.headers["x-request-id"], body
    return dict(error)


def test_every_error_on_a_graph_path_is_metas_error_body(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    number = boot["phone_number_id"]
    unknown = assert_meta_error(client.get(f"/v23.0/{number}/no_such_edge", headers=key), 400, 2500)
    assert unknown["message"] == f"Unknown path components: /{number}/no_such_edge"
    assert_meta_error(client.get("/v23.0/1/2/3", headers=key), 400, 2500)
    assert_meta_error(client.get("/v23.0", headers=key), 400, 2500)
    assert_meta_error(client.get("/v23.0/", headers=key), 400, 2500)
    method = assert_meta_error(client.put(f"/v23.0/{number}/messages", headers=key), 400, 100)
    assert method["type"] == "GraphMethodException" and method["error_subcode"] == 33
    assert method["message"].startswith(f"Unsupported put request. Object with ID '{number}'")
    assert_meta_error(client.get(f"/v23.0/{number}/messages", headers=key), 400, 100)
    assert_meta_error(client.post(f"/v23.0/{number}/messages", json={}), 401, 104)
    assert_meta_error(
        client.post(f"/v23.0/{number}/messages", json={}, headers={"Authorization": "Basic abc"}), 401, 104
    )
    assert_meta_error(client.post(f"/v23.0/{number}/messages", json={}, headers=auth("kirem_x")), 401, 190)
    too_large = client.post(
        f"/v23.0/{number}/messages",
        content=b"x" * 2_000_000,
        headers={**key, "Content-Type": "application/json"},
    )
    assert_meta_error(too_large, 413, 100)
    malformed = client.post(
        f"/v23.0/{number}/messages", content=b"{no", headers={**key, "Content-Type": "application/json"}
    )
    assert_meta_error(malformed, 400, 100)
    assert_meta_error(client.post(f"/v23.0/{number}/messages", content=b"to=1", headers=key), 415, 100)
    assert_meta_error(client.delete(f"/v23.0/{boot['waba_id']}/message_templates", headers=key), 400, 100)
    assert_meta_error(client.get("/v23.0/123456789", headers=key), 404, 100)
    # Kirem's own paths keep Kirem's wrapper, whatever the version-like prefix looks like
    for path in ("/v1/no_such_path", "/v1.x/abc", "/vx/1"):
        assert client.get(path, headers=key).json()["status"] == 404


def test_the_key_is_also_accepted_as_metas_access_token_parameter(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    number, waba = boot["phone_number_id"], boot["waba_id"]
    customer_writes(client, boot)

    listed = client.get(f"/v23.0/{waba}/message_templates", params={"access_token": key})
    assert listed.status_code == 200 and listed.json()["data"], listed.text
    text = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "q"}}
    sent = client.post(f"/v23.0/{number}/messages", params={"access_token": key}, json=text)
    assert sent.status_code == 200 and sent.json()["messages"][0]["id"].startswith("wamid."), sent.text
    uploaded = client.post(
        f"/v23.0/{number}/media",
        data={"messaging_product": "whatsapp", "access_token": key},
        files={"file": ("a.png", png_bytes(), "image/png")},
    )
    assert uploaded.status_code == 200, uploaded.text
    form = client.post(
        f"/v23.0/{number}/whatsapp_business_profile",
        data={"access_token": key, "about": "form"},
    )
    assert form.status_code == 200 and form.json() == {"success": True}, form.text  # as Graph takes it
    # Kirem's own API still takes the key only as a Bearer header
    assert client.get("/v1/templates", params={"access_token": key}).status_code == 401

    assert_meta_error(client.get(f"/v23.0/{waba}/message_templates", params={"access_token": ""}), 401, 104)
    assert_meta_error(
        client.get(f"/v23.0/{waba}/message_templates", params={"access_token": "kirem_live_nope"}), 401, 190
    )
    other = server.bootstrap()
    # the same rules as the header: another project's key does not see this WABA, a revoked key is refused
    assert_meta_error(
        client.get(f"/v23.0/{waba}/message_templates", params={"access_token": other["api_key"]}), 404, 100
    )
    manage = auth(boot["account_token"])
    client.delete(f"/v1/manage/projects/{boot['project_id']}/keys/{boot['api_key_id']}", headers=manage)
    assert_meta_error(client.get(f"/v23.0/{waba}/message_templates", params={"access_token": key}), 401, 190)


def test_every_cloud_api_version_is_served_alike_and_older_ones_get_metas_error(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    for version in ("v13.0", "v14.0", "v15.0", "v17.0", "v21.0", "v23.0", "v26.0", "v99.0"):
        listed = client.get(f"/{version}/{boot['waba_id']}/message_templates", headers=key)
        assert listed.status_code == 200 and listed.json()["data"], (version, listed.text)
    for version in ("v12.0", "v2.11", "v0.0", "v012.0"):
        refused = assert_meta_error(
            client.get(f"/{version}/{boot['waba_id']}/message_templates", headers=key), 400, 2635
        )
        assert "v13.0" in refused["message"]
    # before the key is even looked at, as Meta does
    assert_meta_error(client.get(f"/v12.0/{boot['waba_id']}/message_templates"), 400, 2635)


def create_templates(client: httpx.Client, boot: dict[str, Any], *names: str) -> None:
    for name in names:
        body = {
            "name": name,
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": f"{name} {{{{1}}}}"}],
        }
        created = client.post(
            f"/v23.0/{boot['waba_id']}/message_templates", json=body, headers=auth(boot["api_key"])
        )
        assert created.status_code == 200, created.text


def test_template_list_takes_metas_fields_filters_cursors_and_summary(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    path = f"/v23.0/{boot['waba_id']}/message_templates"
    create_templates(client, boot, "promo_one", "promo_two", "receipt")

    only = client.get(path, params={"fields": "name,status"}, headers=auth(key)).json()
    assert only["data"] and all(set(t) == {"name", "status", "id"} for t in only["data"]), only

    # Chatwoot's way: the token in the query, then paging.next fetched as it is
    first = client.get(path, params={"access_token": key, "limit": "2", "name": "promo"})
    page = first.json()
    assert first.status_code == 200 and len(page["data"]) == 2, first.text
    assert set(page["paging"]["cursors"]) == {"before", "after"} and "previous" not in page["paging"]
    assert set(page) == {"data", "paging"}
    names = [t["name"] for t in page["data"]]
    assert sorted(names) == ["promo_one", "promo_two"]
    assert "next" not in page["paging"]

    page = client.get(path, params={"access_token": key, "limit": "1"}).json()
    seen = [page["data"][0]["name"]]
    while "next" in page["paging"]:
        link = page["paging"]["next"]
        assert link.startswith(f"{server.url}{path}?") and "access_token=" in link, link
        page = httpx.get(link).json()
        seen.append(page["data"][0]["name"])
    assert sorted(seen) == ["hello_world", "promo_one", "promo_two", "receipt"]
    back = httpx.get(page["paging"]["previous"]).json()
    assert back["data"][0]["name"] == seen[-2]

    approved = client.get(
        path, params={"status": "APPROVED,PENDING", "summary": "total_count"}, headers=auth(key)
    )
    assert approved.json()["summary"] == {"total_count": 4}, approved.text
    assert (
        client.get(path, params={"name": "hello"}, headers=auth(key)).json()["data"][0]["name"]
        == "hello_world"
    )
    bad = client.get(path, params={"limit": "many"}, headers=auth(key))  # Meta's (the sandbox's) own error
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100, bad.text


def test_v1_templates_take_the_same_filters_and_cursors_in_the_seeds_wrapper(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    create_templates(client, boot, "promo_one", "promo_two")

    everything = client.get("/v1/templates", headers=key).json()
    assert everything["status"] == 200 and len(everything["data"]) == 3 and "paging" not in everything
    named = client.get("/v1/templates", params={"name": "promo", "language": "en_US"}, headers=key).json()
    assert sorted(t["name"] for t in named["data"]) == ["promo_one", "promo_two"]

    page = client.get("/v1/templates", params={"limit": "2"}, headers=key).json()
    assert page["status"] == 200 and page["message"] == "Templates retrieved successfully"
    assert len(page["data"]) == 2 and set(page["paging"]["cursors"]) == {"before", "after"}
    link = page["paging"]["next"]
    assert link.startswith(f"{server.url}/v1/templates?") and "limit=2" in link, link
    rest = httpx.get(link, headers=key).json()
    assert len(rest["data"]) == 1 and "next" not in rest["paging"]
    assert {t["name"] for t in page["data"] + rest["data"]} == {"hello_world", "promo_one", "promo_two"}
    after = client.get(
        "/v1/templates", params={"limit": "2", "after": page["paging"]["cursors"]["after"]}, headers=key
    ).json()
    assert after["data"] == rest["data"]

    for bad in ({"limit": "0"}, {"limit": "٣"}, {"status": "GONE"}, {"after": "x" * 2000}):
        refused = client.get("/v1/templates", params=bad, headers=key)
        assert refused.status_code == 400 and refused.json()["status"] == 400, (bad, refused.text)


def test_media_and_profile_reads_answer_only_the_requested_fields(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    number = boot["phone_number_id"]
    uploaded = client.post(
        f"/v23.0/{number}/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=key
    )
    media_id = uploaded.json()["id"]
    info = client.get(f"/v23.0/{media_id}", params={"fields": "url,file_size"}, headers=key).json()
    assert set(info) == {"url", "file_size", "id"} and info["url"].startswith(server.url)
    full = client.get(f"/v23.0/{media_id}", headers=key).json()
    assert {"url", "mime_type", "sha256", "file_size", "id", "messaging_product"} <= set(full)

    profile = client.get(
        f"/v23.0/{number}/whatsapp_business_profile", params={"fields": "about,email"}, headers=key
    ).json()
    assert set(profile["data"][0]) == {"about", "email", "messaging_product"}, profile


def test_a_channels_phone_number_node_is_read_as_on_meta(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    number = boot["phone_number_id"]
    node = client.get(f"/v23.0/{number}", headers=key)
    assert node.status_code == 200, node.text
    found = node.json()
    assert found["id"] == number and found["display_phone_number"] and found["verified_name"]
    chosen = client.get(f"/v23.0/{number}", params={"fields": "verified_name"}, headers=key).json()
    assert set(chosen) == {"verified_name", "id"}, chosen
    other = server.bootstrap()
    assert client.get(f"/v23.0/{number}", headers=auth(other["api_key"])).status_code == 404


def test_idempotency_key_works_on_metas_send_path(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    headers = {**auth(boot["api_key"]), "Idempotency-Key": "graph-order-1"}
    path = f"/v23.0/{boot['phone_number_id']}/messages"
    body = {
        "messaging_product": "whatsapp",
        "to": "62812345678",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    first = client.post(path, json=body, headers=headers)
    assert first.status_code == 200, first.text
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true", again.text
    assert again.json() == first.json()
    other = client.post(path, json={**body, "to": "62812345679"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == 100, other.text
    sent = logs(client, boot["api_key"], direction="outbound")["logs"]
    assert [entry["message_id"] for entry in sent] == [first.json()["messages"][0]["id"]]
