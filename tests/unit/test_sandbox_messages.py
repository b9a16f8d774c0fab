"""Sandbox sends: tokens, the service window, undeliverable numbers, statuses, throughput, errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox import UNDELIVERABLE_PREFIX
from kirem.sandbox.errors import MetaError
from kirem.sandbox.messages import parse_send
from kirem.sandbox.models import SandboxTemplate
from kirem.sandbox.templates import check_send_parameters
from tests.fixtures import meta_examples
from tests.fixtures.lenient import with_nulls, with_unknown_fields
from tests.unit.sandbox_support import FakeClock, SandboxHarness, bearer, mutations, running_sandbox

CUSTOMER = "62812345678"
ORDER_COMPONENTS = [{"type": "HEADER", "format": "TEXT", "text": "{{1}}"}, {"type": "BODY"}]
TEXT = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "Halo"}}


@pytest.fixture
async def sandbox(settings: Settings, database: Database) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database) as harness:
        yield harness


def assert_meta_error(response: Any, status: int, code: int, subcode: int | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    if subcode is not None:
        assert error["error_subcode"] == subcode
    return error


async def test_provisioned_number_sends_hello_world_at_once(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    assert len(number.phone_number_id) == 15 and number.phone_number_id.isdigit()
    assert len(number.waba_id) == 15 and number.waba_id.isdigit()
    assert number.display_phone_number.startswith("1555") and len(number.display_phone_number) == 11
    assert number.access_token.startswith("EAAS")
    assert number.access_token not in repr(number)

    body = {
        "messaging_product": "whatsapp",
        "to": "+62 812-345-678",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    response = await sandbox.send(number, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "+62 812-345-678", "wa_id": "62812345678"}]
    message = answer["messages"][0]
    assert message["id"].startswith("wamid.")
    assert message["message_status"] == "accepted"
    # Like Meta's ids, the base64 record carries the recipient's number.
    assert b"62812345678" in base64.b64decode(message["id"].removeprefix("wamid."))

    await sandbox.runtime.idle()
    statuses = sandbox.recorder.statuses(message["id"])
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(post.signature_valid for post in sandbox.recorder.posts)
    assert sandbox.recorder.posts[0].url == f"{sandbox.runtime.settings.base_url}/webhooks/meta"
    sent = statuses[0]
    assert sent["recipient_id"] == CUSTOMER and sent["timestamp"].isdigit()
    assert sent["conversation"]["origin"] == {"type": "marketing"}
    assert "expiration_timestamp" in sent["conversation"]
    assert sent["pricing"] == {"billable": True, "pricing_model": "PMP", "category": "marketing"}
    payload = sandbox.recorder.posts[0].payload
    assert payload["object"] == "whatsapp_business_account"
    assert payload["entry"][0]["id"] == number.waba_id
    assert payload["entry"][0]["changes"][0]["value"]["metadata"] == {
        "display_phone_number": number.display_phone_number,
        "phone_number_id": number.phone_number_id,
    }


async def test_tokens_are_checked_like_meta(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    other = await sandbox.provision()
    path = f"/v23.0/{number.phone_number_id}/messages"

    missing = await sandbox.client.post(path, json=TEXT)
    assert_meta_error(missing, 401, 104)

    wrong = await sandbox.client.post(path, json=TEXT, headers=bearer("EAASnot-a-real-token"))
    error = assert_meta_error(wrong, 401, 190)
    assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
    assert error["type"] == "OAuthException"

    foreign = await sandbox.client.post(path, json=TEXT, headers=bearer(other.access_token))
    error = assert_meta_error(foreign, 400, 100, subcode=33)
    assert f"Object with ID '{number.phone_number_id}' does not exist" in error["message"]
    assert error["message"].startswith("Unsupported post request.")

    query = await sandbox.client.post(f"{path}?access_token={number.access_token}", json={})
    assert_meta_error(query, 400, 100)  # authenticated, then the empty body is rejected


async def test_free_form_inside_the_window_is_delivered(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    assert (await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})).status_code == 200
    response = await sandbox.send(number, TEXT)
    assert response.status_code == 200, response.text
    wamid = response.json()["messages"][0]["id"]
    assert "message_status" not in response.json()["messages"][0]
    await sandbox.runtime.idle()
    statuses = sandbox.recorder.statuses(wamid)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert statuses[1]["pricing"] == {"billable": False, "pricing_model": "PMP", "category": "service"}
    assert all("errors" not in s for s in statuses)


async def test_free_form_outside_the_window_fails_with_131047(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await sandbox.send(number, TEXT)
    assert response.status_code == 200, response.text  # accepted: the failure comes by webhook
    wamid = response.json()["messages"][0]["id"]
    await sandbox.runtime.idle()
    [failed] = sandbox.recorder.statuses(wamid)
    assert failed["status"] == "failed"
    assert failed["recipient_id"] == CUSTOMER
    [error] = failed["errors"]
    assert error["code"] == 131047
    assert error["title"] == "Re-engagement message"
    assert error["error_data"]["details"] == (
        "Message failed to send because more than 24 hours have passed since the customer last replied to "
        "this number."
    )


async def test_the_window_closes_24_hours_after_the_last_inbound(
    settings: Settings, database: Database
) -> None:
    clock = FakeClock()
    async with running_sandbox(settings, database, clock=clock) as sandbox:
        number = await sandbox.provision()
        await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})
        clock.advance(hours=23, minutes=59)
        inside = (await sandbox.send(number, TEXT)).json()["messages"][0]["id"]
        clock.advance(minutes=2)
        outside = (await sandbox.send(number, TEXT)).json()["messages"][0]["id"]
        template = {
            "messaging_product": "whatsapp",
            "to": CUSTOMER,
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
        templated = (await sandbox.send(number, template)).json()["messages"][0]["id"]
        await sandbox.runtime.idle()
        assert [s["status"] for s in sandbox.recorder.statuses(inside)] == ["sent", "delivered", "read"]
        assert [s["status"] for s in sandbox.recorder.statuses(outside)] == ["failed"]
        assert [s["status"] for s in sandbox.recorder.statuses(templated)] == ["sent", "delivered", "read"]


async def test_undeliverable_test_numbers_fail_with_131026(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    recipient = UNDELIVERABLE_PREFIX + "00000001"
    body = {
        "messaging_product": "whatsapp",
        "to": "+" + recipient,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    response = await sandbox.send(number, body)
    assert response.status_code == 200
    wamid = response.json()["messages"][0]["id"]
    await sandbox.runtime.idle()
    [failed] = sandbox.recorder.statuses(wamid)
    assert failed["status"] == "failed"
    assert failed["errors"][0]["code"] == 131026
    assert failed["errors"][0]["title"] == "Message undeliverable"
    assert "conversation" not in failed and "pricing" not in failed


async def test_statuses_keep_their_order_with_delays(settings: Settings, database: Database) -> None:
    slow = settings.model_copy(update={"sandbox_status_delay_seconds": 0.01})
    async with running_sandbox(slow, database) as sandbox:
        number = await sandbox.provision()
        await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})
        ids = [(await sandbox.send(number, TEXT)).json()["messages"][0]["id"] for _ in range(3)]
        await sandbox.runtime.idle()
        for wamid in ids:
            assert [s["status"] for s in sandbox.recorder.statuses(wamid)] == ["sent", "delivered", "read"]
            stamps = [int(s["timestamp"]) for s in sandbox.recorder.statuses(wamid)]
            assert stamps == sorted(stamps)


async def test_failed_webhook_posts_are_retried(settings: Settings, database: Database) -> None:
    async with running_sandbox(settings, database, fail_first=2) as sandbox:
        number = await sandbox.provision()
        response = await sandbox.send(
            number,
            {
                "messaging_product": "whatsapp",
                "to": CUSTOMER,
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            },
        )
        await sandbox.runtime.idle()
        wamid = response.json()["messages"][0]["id"]
        assert [s["status"] for s in sandbox.recorder.statuses(wamid)] == ["sent", "delivered", "read"]
        assert sandbox.recorder.attempts == 5


async def test_throughput_over_the_limit_gets_130429(settings: Settings, database: Database) -> None:
    clock = FakeClock()
    limited = settings.model_copy(update={"sandbox_throughput_per_second": 3})
    async with running_sandbox(limited, database, clock=clock) as sandbox:
        number = await sandbox.provision()
        other = await sandbox.provision()
        for _ in range(3):
            assert (await sandbox.send(number, TEXT)).status_code == 200
        error = assert_meta_error(await sandbox.send(number, TEXT), 429, 130429)
        assert error["message"] == "(#130429) Rate limit hit"
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert (await sandbox.send(other, TEXT)).status_code == 200  # per number
        clock.advance(seconds=1.01)
        assert (await sandbox.send(number, TEXT)).status_code == 200


async def test_read_receipts_only_for_inbound_messages(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    other = await sandbox.provision()
    inbound = (await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})).json()["wamid"]
    receipt = {"messaging_product": "whatsapp", "status": "read", "message_id": inbound}
    response = await sandbox.send(number, receipt)
    assert response.status_code == 200 and response.json() == {"success": True}
    typing = await sandbox.send(number, {**receipt, "typing_indicator": {"type": "text"}})
    assert typing.json() == {"success": True}

    outbound = (await sandbox.send(number, TEXT)).json()["messages"][0]["id"]
    assert_meta_error(await sandbox.send(number, {**receipt, "message_id": outbound}), 400, 100)
    assert_meta_error(await sandbox.send(number, {**receipt, "message_id": "wamid.unknown"}), 400, 100)
    assert_meta_error(await sandbox.send(other, receipt), 400, 100)
    await sandbox.runtime.idle()
    assert sandbox.recorder.statuses(inbound) == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({**TEXT, "to": "{{Recipient-Phone-Number}}"}, "'to'"),
        ({**TEXT, "to": "1234"}, "'to'"),
        ({**TEXT, "messaging_product": "sms"}, "messaging_product"),
        ({key: value for key, value in TEXT.items() if key != "to"}, "to"),
        ({**TEXT, "text": {}}, "text['body']"),
        ({**TEXT, "type": "carrier_pigeon"}, "type"),
        ({**TEXT, "type": "image", "image": {"link": "ftp://example.com/a.jpg"}}, "link"),
        ({**TEXT, "type": "image", "image": {"id": "123456"}}, "media id"),
        ({**TEXT, "type": "image", "image": {}}, "image['id'] or image['link']"),
        ({**TEXT, "type": "location", "location": {"latitude": 1}}, "longitude"),
        ({**TEXT, "type": "reaction", "reaction": {"emoji": "x"}}, "message_id"),
        ({**TEXT, "recipient_type": "group"}, "group"),
    ],
)
async def test_invalid_sends_get_meta_error_100(
    sandbox: SandboxHarness, body: dict[str, Any], needle: str
) -> None:
    number = await sandbox.provision()
    error = assert_meta_error(await sandbox.send(number, body), 400, 100)
    assert needle in error["message"] + error.get("error_data", {}).get("details", "")


async def test_media_of_another_number_cannot_be_sent(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    other = await sandbox.provision()
    upload = await sandbox.client.post(
        f"/v23.0/{other.phone_number_id}/media",
        data={"messaging_product": "whatsapp", "type": "image/png"},
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\nfake", "image/png")},
        headers=bearer(other.access_token),
    )
    media_id = upload.json()["id"]
    body = {**TEXT, "type": "image", "image": {"id": media_id}}
    assert_meta_error(await sandbox.send(number, body), 400, 100)
    assert (await sandbox.send(other, body)).status_code == 200


async def test_malformed_requests_answer_in_metas_error_body(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    path = f"/v23.0/{number.phone_number_id}/messages"
    headers = {**bearer(number.access_token), "Content-Type": "application/json"}

    broken = await sandbox.client.post(path, content=b'{"messaging_product": ', headers=headers)
    assert "JSON" in assert_meta_error(broken, 400, 100)["error_data"]["details"]
    array = await sandbox.client.post(path, content=b"[1, 2]", headers=headers)
    assert_meta_error(array, 400, 100)

    unknown = await sandbox.client.get("/v23.0/123/unknown_edge/deeper")
    assert "detail" not in unknown.json()
    assert_meta_error(unknown, 400, 2500)

    wrong_method = await sandbox.client.put(path, json=TEXT, headers=bearer(number.access_token))
    error = assert_meta_error(wrong_method, 400, 100, subcode=33)
    assert error["message"].startswith("Unsupported put request.")

    bad_version = await sandbox.client.post(
        f"/latest/{number.phone_number_id}/messages", json=TEXT, headers=headers
    )
    assert_meta_error(bad_version, 400, 100)


EXAMPLES = list(meta_examples()["send_message"].items())


def test_the_openapi_document_has_fifty_send_examples() -> None:
    assert len(EXAMPLES) == 50


async def test_every_openapi_send_example_gets_200_or_a_meta_4xx(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}}, sender="16505551234")
    outcomes: dict[str, int] = {}
    for name, body in EXAMPLES:
        response = await sandbox.send(number, body)
        outcomes[name] = response.status_code
        if response.status_code == 200:
            answer = response.json()
            assert answer == {"success": True} or answer["messages"][0]["id"].startswith("wamid."), name
        else:
            assert 400 <= response.status_code < 500, (name, response.text)
            assert_meta_error(response, response.status_code, response.json()["error"]["code"])
    accepted = {name for name, status in outcomes.items() if status == 200}
    assert "Send Catalog Message" in accepted  # the one example with a real recipient and no template
    # Meta's sample recipient is not a phone number; the read receipt names no inbound message.
    assert outcomes["Send Text Message"] == 400
    assert outcomes["Send typing indicator and read receipt"] == 400
    await sandbox.runtime.idle()


@pytest.mark.parametrize(
    "variant", [None, with_nulls, with_unknown_fields], ids=["as-is", "nulls", "unknown"]
)
async def test_openapi_examples_with_real_recipients_and_ids_are_accepted(
    sandbox: SandboxHarness, variant: Callable[[dict[str, Any]], dict[str, Any]] | None
) -> None:
    """As Meta does, the sandbox reads ``null`` as absent and ignores fields it does not know."""
    number = await sandbox.provision()
    inbound = (await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})).json()["wamid"]
    upload = await sandbox.client.post(
        f"/v23.0/{number.phone_number_id}/media",
        data={"messaging_product": "whatsapp", "type": "image/png"},
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\nfake", "image/png")},
        headers=bearer(number.access_token),
    )
    media_id = upload.json()["id"]
    failures = {}
    for name, body in EXAMPLES:
        body = dict(body)
        if "to" in body:
            body["to"] = CUSTOMER
        if body.get("status") == "read":
            body["message_id"] = inbound
        kind = body.get("type")
        if isinstance(body.get(kind), dict):
            media = dict(body[kind])
            if "id" in media:
                media["id"] = media_id
            if "link" in media:
                media["link"] = "https://example.com/file"
            body[kind] = media
        if kind == "template":
            body["template"] = {"name": "hello_world", "language": {"code": "en_US"}}
        response = await sandbox.send(number, variant(body) if variant else body)
        if response.status_code != 200:
            failures[name] = response.json()["error"]
    # Only the example without a type (Meta then assumes text) is refused, as Meta refuses it.
    assert set(failures) == {"Send Reply to List Message"}
    assert (
        failures["Send Reply to List Message"]["message"] == "(#100) The parameter text['body'] is required."
    )
    await sandbox.runtime.idle()


def test_send_validation_never_fails_other_than_with_a_meta_error() -> None:
    template = SandboxTemplate(
        name="t", language="en_US", category="AUTHENTICATION", components=ORDER_COMPONENTS, status="APPROVED"
    )
    checked = 0
    for _, example in EXAMPLES:
        example = {**example, "to": CUSTOMER} if "to" in example else example
        for body in mutations(example):
            checked += 1
            if not isinstance(body, dict):
                continue
            try:
                request = parse_send(body)
            except MetaError as error:
                assert 400 <= error.status_code < 500
                assert error.body()["error"]["code"] == 100
                continue
            assert request.wa_id.isdigit()
            if request.type == "template":
                try:
                    check_send_parameters(template, body["template"].get("components"))
                except MetaError as error:
                    assert error.code == 132000
    assert checked > 10_000


async def test_mutated_bodies_over_http_never_get_a_500(settings: Settings, database: Database) -> None:
    unlimited = settings.model_copy(update={"sandbox_throughput_per_second": 1_000_000})
    async with running_sandbox(unlimited, database) as sandbox:
        await _send_mutations(sandbox)


async def _send_mutations(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})
    bodies = [TEXT, {**TEXT, "type": "image", "image": {"link": "https://example.com/a.png", "caption": "c"}}]
    hello = {
        "name": "hello_world",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": []}],
    }
    bodies.append({**TEXT, "type": "template", "template": hello})
    for original in bodies:
        for body in mutations(original):
            response = await sandbox.client.post(
                f"/v23.0/{number.phone_number_id}/messages",
                content=orjson.dumps(body),
                headers={**bearer(number.access_token), "Content-Type": "application/json"},
            )
            assert response.status_code in (200, 400, 404), (body, response.text)
            if response.status_code != 200:
                assert set(response.json()) == {"error"}
    await sandbox.runtime.idle()
