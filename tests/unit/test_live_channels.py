"""A live channel speaks to Meta's Graph API: exact calls, Meta's errors passed through, outages as 502."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kirem.app import create_app
from kirem.config import Settings
from kirem.db.migrate import upgrade_async
from kirem.messaging import profile
from kirem.meta.client import GraphClient, InvalidGraphId
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.channels import create_channel
from kirem.tenancy.service import find_account, find_project
from tests.fixtures import meta_examples
from tests.fixtures.lenient import with_nulls, with_unknown_fields

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
META_SENDS = meta_examples()["send_message"]


class FakeMeta:
    """Answers like graph.facebook.com and records what Kirem asked."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.reply: httpx.Response | Exception = httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "62812345678", "wa_id": "62812345678"}],
                "messages": [{"id": "wamid.LIVE1"}],
            },
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FakeMeta, dict[str, Any]]]:
    meta = FakeMeta()
    await upgrade_async(settings)
    app = create_app(settings, meta_transport=httpx.MockTransport(meta.handler))
    ctx = app.state.ctx
    boot = await bootstrap(ctx, "live-co", "main", "growth")
    async with ctx.db.transaction() as session:
        account = await find_account(session, "live-co")
        project = await find_project(session, account, "main")
        await create_channel(
            ctx,
            session,
            account,
            project,
            {
                "kind": "live",
                "phone_number_id": PHONE_NUMBER_ID,
                "waba_id": WABA_ID,
                "access_token": "EAAG-real",
            },
        )
    meta.requests.clear()  # the channel's checks; tests/unit/test_channel_checks.py covers them
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        yield client, meta, boot
    await ctx.aclose()


async def test_send_goes_to_graph_with_the_channel_token(live) -> None:
    client, meta, boot = live
    body = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    response = await client.post(
        f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["messages"] == [{"id": "wamid.LIVE1"}]
    [request] = meta.requests
    assert str(request.url) == f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == "Bearer EAAG-real"
    assert json.loads(request.content) == body


async def test_meta_errors_keep_metas_code_and_status(live) -> None:
    client, meta, boot = live
    meta.reply = httpx.Response(
        400,
        json={
            "error": {
                "message": "(#132000) Template status is not APPROVED.",
                "type": "OAuthException",
                "code": 132000,
                "error_subcode": 2490001,
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
        },
    )
    body = {
        "messaging_product": "whatsapp",
        "to": "62812345678",
        "type": "template",
        "template": {"name": "x", "language": {"code": "id"}},
    }
    response = await client.post(
        f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["message"] == "(#132000) Template status is not APPROVED."
    assert answer["errors"]["code"] == 132000 and answer["errors"]["error_subcode"] == 2490001
    meta.reply = httpx.Response(
        429, json={"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}}
    )
    limited = await client.post(
        f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert limited.status_code == 429 and limited.json()["errors"]["code"] == 130429


async def test_meta_outage_is_a_502_and_the_send_is_logged_failed(live) -> None:
    client, meta, boot = live
    meta.reply = httpx.ConnectTimeout("timed out")
    body = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    response = await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers=headers)
    assert response.status_code == 502 and response.json()["status"] == 502
    meta.reply = httpx.Response(502, text="<html>bad gateway</html>")
    assert (
        await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers=headers)
    ).status_code == 502
    logs = (await client.get("/v1/analytics/messages?status=failed", headers=headers)).json()["data"]
    assert logs["total"] == 2


async def test_templates_and_profile_use_the_waba_and_number(live) -> None:
    client, meta, boot = live
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    meta.reply = httpx.Response(
        200,
        json={
            "data": [
                {
                    "name": "hello_world",
                    "status": "APPROVED",
                    "category": "MARKETING",
                    "language": "en_US",
                    "components": [],
                    "id": "1",
                }
            ],
            "paging": {"cursors": {"before": "a", "after": "b"}},
        },
    )
    listed = await client.get(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", headers=headers)
    assert listed.status_code == 200 and listed.json()["data"][0]["name"] == "hello_world"
    assert meta.requests[-1].url.path == f"/v23.0/{WABA_ID}/message_templates"
    meta.reply = httpx.Response(
        200, json={"data": [{"about": "Hi", "messaging_product": "whatsapp", "websites": ["https://a.id"]}]}
    )
    profile = await client.get(f"/v1/profile?channel_id={PHONE_NUMBER_ID}", headers=headers)
    assert profile.json()["data"]["about"] == "Hi" and profile.json()["data"]["websites"] == ["https://a.id"]
    assert meta.requests[-1].url.path == f"/v23.0/{PHONE_NUMBER_ID}/whatsapp_business_profile"


async def test_rate_limit_per_key_answers_429_with_retry_after(
    tmp_path, database_url, encryption_key
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url, encryption_key, rate_limit_per_second=3)
    await upgrade_async(settings)
    app = create_app(settings)
    boot = await bootstrap(app.state.ctx, "busy", "main", "growth")
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        codes = [(await client.get("/v1/analytics/messages", headers=headers)) for _ in range(6)]
    await app.state.ctx.aclose()
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["errors"]["retry_after"] >= 1


def _headers(boot: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {boot['api_key']}"}


@pytest.mark.parametrize(
    "object_id",
    ["..", "../x", "1/2", "1?fields=id", "1#x", "\x00", "\x01", "1\r\n", "١٢٣", "１２", "12 ", ""],
)
async def test_the_client_refuses_an_object_id_that_is_not_metas(object_id: str) -> None:
    meta = FakeMeta()
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(meta.handler), base_url="https://graph.facebook.com"
    )
    graph = GraphClient(http, "v23.0")
    calls = (
        graph.media_info(object_id, "t"),
        graph.send_message(object_id, "t", {}),
        graph.upload_media(object_id, "t", filename="a", content=b"", mime_type="image/png"),
        graph.list_templates(object_id, "t"),
        graph.create_template(object_id, "t", {}),
        graph.delete_template(object_id, "t", "x"),
        graph.get_profile(object_id, "t", "about"),
        graph.update_profile(object_id, "t", {}),
    )
    for call in calls:
        with pytest.raises(InvalidGraphId):
            await call
    assert meta.requests == []
    await graph.aclose()


@pytest.mark.parametrize("media_id", ["%2E%2E", "1%3Ffields%3Did", "%0A", "%D9%A1", "1" * 65])
async def test_a_hostile_media_id_is_a_400_before_any_graph_call(live, media_id: str) -> None:
    client, meta, boot = live
    response = await client.get(f"/v1/media/{media_id}/download", headers=_headers(boot))
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == {"media_id": "must be Meta's numeric media id"}
    graph = await client.get(f"/v23.0/{media_id}", headers=_headers(boot))
    assert graph.status_code == 400 and graph.json()["error"]["error_subcode"] == 33
    assert meta.requests == []


async def test_a_nul_in_a_media_id_is_refused_at_the_edge_before_any_graph_call(live) -> None:
    client, meta, boot = live
    response = await client.get("/v1/media/%00/download", headers=_headers(boot))
    assert response.status_code == 400 and "path" in response.json()["errors"], response.text
    graph = await client.get("/v23.0/%00", headers=_headers(boot))
    assert graph.status_code == 400 and graph.json()["error"]["code"] == 100
    assert meta.requests == []


async def test_an_escaped_slash_in_a_media_id_is_another_path_that_reaches_no_graph_call(live) -> None:
    client, meta, boot = live
    response = await client.get("/v1/media/a%2Fb/download", headers=_headers(boot))
    assert response.status_code == 404 and response.json()["message"] == "Route not found"
    graph = await client.get("/v23.0/a%2Fb", headers=_headers(boot))
    assert graph.status_code == 400 and graph.json()["error"]["code"] == 2500
    assert meta.requests == []


async def _live_media(client: httpx.AsyncClient, meta: FakeMeta, boot: dict[str, Any], media_id: str) -> None:
    """Upload through the live channel, so that ``media_id`` is known to belong to it."""
    meta.reply = httpx.Response(200, json={"id": media_id})
    uploaded = await client.post(
        f"/v1/media?channel_id={PHONE_NUMBER_ID}",
        files={"file": ("a.png", b"\x89PNG", "image/png")},
        headers=_headers(boot),
    )
    assert uploaded.status_code == 200, uploaded.text
    meta.requests.clear()


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "1", "mime_type": "image/png"},  # a node that is not media (e.g. a phone number id)
        {"id": "1", "url": None},
        {"id": "1", "url": 12},
        {"id": "1", "url": "file:///etc/passwd"},
        {"id": "1", "url": "/relative"},
    ],
)
async def test_media_metadata_without_a_download_url_is_a_404(live, answer: dict[str, Any]) -> None:
    client, meta, boot = live
    await _live_media(client, meta, boot, "123")
    meta.reply = httpx.Response(200, json=answer)
    download = await client.get("/v1/media/123/download", headers=_headers(boot))
    assert download.status_code == 404 and download.json()["message"] == "Media not found", download.text
    graph = await client.get("/v23.0/123", headers=_headers(boot))
    assert graph.status_code == 404 and graph.json()["error"]["code"] == 100, graph.text
    assert len(meta.requests) == 2  # metadata asked twice, nothing downloaded


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"12", b"null"])
async def test_a_graph_answer_that_is_not_an_object_is_a_502(live, body: bytes) -> None:
    client, meta, boot = live
    await _live_media(client, meta, boot, "123")
    meta.reply = httpx.Response(200, content=body, headers={"content-type": "application/json"})
    headers = _headers(boot)
    text = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    for response in (
        await client.get("/v1/media/123/download", headers=headers),
        await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=text, headers=headers),
        await client.get(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", headers=headers),
        await client.get(f"/v1/profile?channel_id={PHONE_NUMBER_ID}", headers=headers),
    ):
        assert response.status_code == 502 and response.json()["status"] == 502, response.text
    graph = await client.get("/v23.0/123", headers=headers)
    assert graph.status_code == 502 and graph.json()["error"]["code"] == 2


async def test_graph_answers_missing_expected_fields_never_give_a_500(live) -> None:
    client, meta, boot = live
    headers = _headers(boot)
    meta.reply = httpx.Response(200, json={"success": True})
    upload = await client.post(
        f"/v1/media?channel_id={PHONE_NUMBER_ID}",
        files={"file": ("a.png", b"\x89PNG", "image/png")},
        headers=headers,
    )
    assert upload.status_code == 502 and "id" in upload.json()["errors"]["meta"], upload.text
    meta.reply = httpx.Response(200, json={"id": {"nested": 1}})
    assert (
        await client.post(
            f"/v1/media?channel_id={PHONE_NUMBER_ID}",
            files={"file": ("a.png", b"\x89PNG", "image/png")},
            headers=headers,
        )
    ).status_code == 502

    text = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    for answer in ({}, {"messages": "x", "contacts": 1}, {"messages": [1], "contacts": ["x"]}):
        meta.reply = httpx.Response(200, json=answer)
        sent = await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=text, headers=headers)
        assert sent.status_code == 201, (answer, sent.text)

    for answer in ({}, {"data": "abc"}, {"data": [1, "x", None]}, {"data": [], "paging": "x"}):
        meta.reply = httpx.Response(200, json=answer)
        listed = await client.get(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", headers=headers)
        assert listed.status_code == 200 and listed.json()["data"] == [], (answer, listed.text)
    meta.reply = httpx.Response(200, json={"data": [{"name": "a"}], "paging": {"cursors": "x", "next": 1}})
    assert (await client.get(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", headers=headers)).json()["data"][
        0
    ]["name"] == "a"

    template = {
        "name": "promo",
        "category": "MARKETING",
        "language": "en_US",
        "components": [{"type": "BODY", "text": "Hi"}],
    }
    meta.reply = httpx.Response(200, json={})
    created = await client.post(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", json=template, headers=headers)
    assert created.status_code == 502, created.text

    for answer in ({}, {"data": "x"}, {"data": [1]}, {"data": [{"business_profile": "x"}]}):
        meta.reply = httpx.Response(200, json=answer)
        profile = await client.get(f"/v1/profile?channel_id={PHONE_NUMBER_ID}", headers=headers)
        assert profile.status_code == 200 and profile.json()["data"]["about"] == "", (answer, profile.text)


async def test_an_unexpected_failure_on_a_graph_path_is_metas_transient_error(live, monkeypatch) -> None:
    client, _, boot = live

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(profile, "get_profile", broken)
    response = await client.get(f"/v23.0/{PHONE_NUMBER_ID}/whatsapp_business_profile", headers=_headers(boot))
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == 2 and error["is_transient"] is True and "boom" not in response.text


async def test_access_token_parameter_follows_the_same_rules_as_the_header(live) -> None:
    client, meta, boot = live
    minted = await client.post(
        f"/v1/manage/projects/{boot['project_id']}/keys",
        json={"name": "t", "mode": "test"},
        headers={"Authorization": f"Bearer {boot['account_token']}"},
    )
    test_key = minted.json()["data"]["key"]
    body = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    refused = await client.post(
        f"/v23.0/{PHONE_NUMBER_ID}/messages", params={"access_token": test_key}, json=body
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 200, refused.text
    sent = await client.post(
        f"/v23.0/{PHONE_NUMBER_ID}/messages", params={"access_token": boot["api_key"]}, json=body
    )
    assert sent.status_code == 200 and sent.json()["messages"] == [{"id": "wamid.LIVE1"}]
    assert meta.requests[-1].headers["authorization"] == "Bearer EAAG-real"
    assert "access_token" not in str(meta.requests[-1].url)


async def test_a_live_channel_needs_ascii_digit_ids(live) -> None:
    client, _, boot = live
    manage = {"Authorization": f"Bearer {boot['account_token']}"}
    for field in ("phone_number_id", "waba_id"):
        body = {"kind": "live", "phone_number_id": "1065", "waba_id": "1022", "access_token": "EAAG"}
        for bad in ("١٢٣", "１２", "12\n", "1/2"):
            response = await client.post(
                f"/v1/manage/projects/{boot['project_id']}/channels",
                json={**body, field: bad},
                headers=manage,
            )
            assert response.status_code == 400 and field in response.json()["errors"], response.text


async def test_a_form_token_body_is_still_readable_by_the_route(live) -> None:
    client, meta, boot = live
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=json"}  # "json" in the type
    response = await client.post(
        f"/v23.0/{PHONE_NUMBER_ID}/messages", content=f"access_token={boot['api_key']}", headers=form
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == 100, response.text
    assert meta.requests == []


@pytest.mark.parametrize("path", ["/v1/{pn}/messages", "/v23.0/{pn}/messages"])
@pytest.mark.parametrize("variant", [with_nulls, with_unknown_fields], ids=["nulls", "unknown"])
async def test_a_send_reaches_meta_exactly_as_the_client_wrote_it(live, path: str, variant: Any) -> None:
    """No field dropped, renamed or added: nulls, recent and unknown fields reach Meta as sent."""
    client, meta, boot = live
    body = variant({**META_SENDS["Send Reply to Text Message"], "to": "62812345678"})
    response = await client.post(path.format(pn=PHONE_NUMBER_ID), json=body, headers=_headers(boot))
    assert response.status_code in (200, 201), response.text
    assert json.loads(meta.requests[-1].content) == body


async def test_a_profile_update_reaches_meta_with_unknown_and_null_fields(live) -> None:
    client, meta, boot = live
    meta.reply = httpx.Response(200, json={"success": True})
    body = {"messaging_product": "whatsapp", "about": "Hi", "email": None, "future_field": {"x": 1}}
    response = await client.post(
        f"/v23.0/{PHONE_NUMBER_ID}/whatsapp_business_profile", json=body, headers=_headers(boot)
    )
    assert response.status_code == 200 and response.json() == {"success": True}, response.text
    assert json.loads(meta.requests[-1].content) == body


TEMPLATE_FROM_META = {
    "name": "order_update",
    "status": "APPROVED",
    "category": "UTILITY",
    "sub_category": "ORDER_DETAILS",
    "previous_category": "MARKETING",
    "language": "id",
    "components": [{"type": "BODY", "text": "Pesanan {{order_id}} dikirim"}],
    "id": "1192339204654487",
}


@pytest.mark.parametrize("given", [{}, {"parameter_format": "POSITIONAL"}], ids=["derived", "meta's"])
async def test_template_objects_carry_every_field_meta_always_returns(live, given: dict[str, Any]) -> None:
    """pywa indexes ``parameter_format``; Meta's other fields (``sub_category``…) are kept."""
    client, meta, boot = live
    template = {**TEMPLATE_FROM_META, **given}
    meta.reply = httpx.Response(200, json={"data": [template, {"id": 7, "name": "bare"}]})
    v1 = await client.get(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", headers=_headers(boot))
    graph = await client.get(f"/v23.0/{WABA_ID}/message_templates", headers=_headers(boot))
    for listed in (v1.json()["data"], graph.json()["data"]):
        first, bare = listed
        assert first == {**template, "parameter_format": given.get("parameter_format", "NAMED")}
        assert bare["id"] == "7" and bare["parameter_format"] == "POSITIONAL" and bare["components"] == []
        assert {"id", "name", "language", "status", "category", "components", "parameter_format"} <= set(bare)


async def test_graph_media_metadata_carries_every_field_meta_always_returns(live) -> None:
    client, meta, boot = live
    await _live_media(client, meta, boot, "123")
    meta.reply = httpx.Response(
        200,
        json={
            "url": "https://lookaside.fbsbx.com/x",
            "mime_type": "image/png",
            "sha256": "ab",
            "file_size": "4",
        },
    )
    answer = (await client.get("/v23.0/123", headers=_headers(boot))).json()
    assert answer.pop("url").endswith("/v1/media/123/download")  # the download goes through Kirem
    assert answer == {
        "messaging_product": "whatsapp",
        "mime_type": "image/png",
        "sha256": "ab",
        "file_size": "4",
        "id": "123",
    }


async def test_deleting_media_asks_meta_with_the_channel_token_and_number(live) -> None:
    client, meta, boot = live
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    for media_id in ("1037543291543636", "1037543291543637", "1037543291543638"):
        await _live_media(client, meta, boot, media_id)
    meta.reply = httpx.Response(200, json={"success": True})
    deleted = await client.delete("/v1/media/1037543291543636", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["data"] == {"success": True}, deleted.text
    graph = await client.delete("/v23.0/1037543291543637", headers=headers)
    assert graph.status_code == 200 and graph.json() == {"success": True}, graph.text
    first, second = meta.requests
    assert (first.method, first.url.path) == ("DELETE", "/v23.0/1037543291543636")
    assert first.url.params["phone_number_id"] == PHONE_NUMBER_ID
    assert first.headers["authorization"] == "Bearer EAAG-real"
    assert (second.method, second.url.path) == ("DELETE", "/v23.0/1037543291543637")
    meta.reply = httpx.Response(
        400, json={"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}
    )
    unknown = await client.delete("/v1/media/1037543291543638", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["message"] == "Media not found"
