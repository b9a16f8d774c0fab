"""The dashboard's webhook, delivery, message log and analytics pages over HTTP, on the real server."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.dashboard import PASSWORD, create_owner, csrf_of, http_login, unique_email
from tests.e2e.test_routing import inbound


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


class Web:
    """A signed-in owner's browser session over plain HTTP."""

    def __init__(self, client: httpx.Client, csrf: str, info: dict[str, Any]) -> None:
        self.client, self.csrf, self.info = client, csrf, info
        self.base = f"/dashboard/p/{info['project_id']}"

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(f"{self.base}{path}", params=params)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        """A form post with this session's CSRF token (a list of pairs repeats a field)."""
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        return self.client.post(
            f"{self.base}{path}",
            content=urlencode([*fields, ("csrf_token", self.csrf)]),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


@pytest.fixture
def web(server: Server) -> Iterator[Web]:
    info = create_owner(server, unique_email(), PASSWORD)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        csrf = http_login(client, info["email"], PASSWORD)
        yield Web(client, csrf, info)


def _target_form(url: str, **fields: str) -> dict[str, str]:
    return {"url": url, "description": "", "payload_format": "kirem", "headers": "", **fields}


def _created_target(web: Web, url: str, **fields: str) -> str:
    answer = web.post("/webhooks/targets", _target_form(url, **fields))
    assert answer.status_code == 303, answer.text
    found = re.search(r"/targets/(tgt_[A-Za-z0-9]+)", answer.headers["location"])
    assert found
    return found.group(1)


def test_a_target_is_created_with_every_field_and_its_errors_show_inline(
    web: Web, consumer: Consumer
) -> None:
    url = consumer.endpoint("/hook")
    bad = web.post(
        "/webhooks/targets",
        _target_form("ftp://nowhere", timeout_seconds="abc", max_attempts="99", headers="Host: x"),
    )
    assert bad.status_code == 400
    assert 'aria-invalid="true"' in bad.text
    for field in ("err-url", "err-timeout_seconds", "err-max_attempts", "err-headers"):
        assert f'id="{field}"' in bad.text, field
    target_id = _created_target(
        web,
        url,
        description="shop",
        payload_format="meta",
        headers="Authorization: Bearer abc",
        timeout_seconds="5",
        max_attempts="3",
        retry_schedule="0, 1, 2",
    )
    api = web.client.get(f"/v1/webhooks/targets/{target_id}", headers=auth(web.info["api_key"])).json()[
        "data"
    ]
    assert api["payload_format"] == "meta" and api["timeout_seconds"] == 5.0 and api["max_attempts"] == 3
    assert api["retry_schedule"] == [0.0, 1.0, 2.0] and api["headers"] == {"Authorization": "****"}
    page = web.get(f"/webhooks/targets/{target_id}")
    assert "Authorization: ****" in page.text and "Bearer abc" not in page.text
    kept = web.post(f"/webhooks/targets/{target_id}", _target_form(url, headers="Authorization: ****"))
    assert kept.status_code == 303
    test = web.post(f"/webhooks/targets/{target_id}/test", {})
    assert test.status_code == 200 and 'id="test-outcome"' in test.text
    [received] = consumer.wait_for("/hook", 1)
    assert received.headers["authorization"] == "Bearer abc"
    off = web.post(f"/webhooks/targets/{target_id}/enabled", {"enabled": "false"})
    assert off.status_code == 303
    assert "disabled by the user" in web.get("/webhooks").text


def test_the_rule_editor_builds_every_condition_and_the_tester_explains(web: Web, consumer: Consumer) -> None:
    target_id = _created_target(web, consumer.endpoint("/orders"))
    channel_id = web.info["channel_id"]
    fields = [
        ("name", "Orders"),
        ("enabled", "true"),
        ("target_ids", target_id),
        ("mode", "fields"),
        ("event_types", "messages.received"),
        ("message_types", "text"),
        ("message_types", "voice"),
        ("senders", "628*\nUS.*"),
        ("keywords", "order, pesan"),
        ("regex", "(?i)#[0-9]+"),
        ("channel_ids", channel_id),
    ]
    assert web.post("/webhooks/rules", fields).status_code == 303
    [rule] = web.client.get("/v1/webhooks/rules", headers=auth(web.info["api_key"])).json()["data"]
    assert rule["conditions"] == {
        "event_types": ["messages.received"],
        "message_types": ["text", "voice"],
        "senders": ["628*", "US.*"],
        "keywords": ["order", "pesan"],
        "regex": "(?i)#[0-9]+",
        "channel_ids": [channel_id],
    }
    broken = web.post(
        f"/webhooks/rules/{rule['id']}",
        [
            ("name", "Orders"),
            ("target_ids", target_id),
            ("mode", "fields"),
            ("senders", "abc"),
            ("regex", "("),
        ],
    )
    assert broken.status_code == 400
    assert 'id="err-senders"' in broken.text and 'id="err-regex"' in broken.text
    raw = web.post(
        f"/webhooks/rules/{rule['id']}",
        [("name", "Orders"), ("enabled", "true"), ("target_ids", target_id), ("mode", "json"),
         ("conditions_json", '{"keywords": ["order"]}')],
    )  # fmt: skip
    assert raw.status_code == 303
    not_json = web.post(
        f"/webhooks/rules/{rule['id']}",
        [("name", "Orders"), ("target_ids", target_id), ("mode", "json"), ("conditions_json", "{nope")],
    )
    assert not_json.status_code == 400 and 'id="err-conditions_json"' in not_json.text

    hit = web.post("/webhooks/tester", {"sample": '{"type": "messages.received", "text": "my order #5"}'})
    assert hit.status_code == 200 and 'id="tester-result"' in hit.text
    assert "matched" in hit.text and "Orders" in hit.text
    miss = web.post("/webhooks/tester", {"sample": '{"text": "hello"}'})
    assert "did not match" in miss.text and "keywords: none of" in miss.text
    refused = web.post("/webhooks/tester", {"sample": '{"type": "nope"}'})
    assert refused.status_code == 400 and 'id="err-sample"' in refused.text

    inbound(web.client, web.info, {"type": "text", "text": {"body": "order 7"}})
    picked_id = wait_for(lambda: re.search(r'<option value="(evt_[^"]+)"', web.get("/webhooks/tester").text))
    assert picked_id
    picked = web.post("/webhooks/tester", {"event_id": picked_id.group(1)})
    assert picked.status_code == 200 and "matched" in picked.text


def test_failed_deliveries_are_inspected_and_replayed_one_by_event_and_in_bulk(
    web: Web, consumer: Consumer
) -> None:
    url = consumer.endpoint("/flaky", 500, 500)
    target_id = _created_target(web, url, max_attempts="1", headers="X-Token: secret-value")
    for text in ("one", "two"):
        inbound(web.client, web.info, {"type": "text", "text": {"body": text}})
    consumer.wait_for("/flaky", 2)
    # The count and the rows are two reads: wait until both have seen the second failure.
    listing = wait_for(
        lambda: (
            (page := web.get("/deliveries", status="failed", target_id=target_id)).text.count(
                "/deliveries/dlv_"
            )
            >= 2
            and "2 in total" in page.text
            and page
        )
    )
    assert listing
    delivery_id = re.findall(r"/deliveries/(dlv_[A-Za-z0-9]+)", listing.text)[0]
    detail = web.get(f"/deliveries/{delivery_id}")
    assert detail.status_code == 200
    assert "X-Kirem-Signature" in detail.text and "webhook-signature" in detail.text
    assert "X-Token" in detail.text and "secret-value" not in detail.text
    assert ">500<" in detail.text

    again = web.post(f"/deliveries/{delivery_id}/replay", {})
    assert again.status_code == 303 and "notice=replayed" in again.headers["location"]
    consumer.wait_for("/flaky", 3)
    assert wait_for(lambda: "badge ok" in web.get(f"/deliveries/{delivery_id}").text)

    event = web.post(f"/deliveries/{delivery_id}/replay-event", {})
    assert event.status_code == 303 and "count=1" in event.headers["location"]
    consumer.wait_for("/flaky", 4)

    confirm = web.get("/deliveries/replay", status="failed", target_id=target_id)
    assert confirm.status_code == 200
    count = re.search(r'id="replay-count"><strong>(\d+)', confirm.text)
    assert count and count.group(1) == "1"
    done = web.post(
        "/deliveries/replay",
        {"status": "failed", "target_id": target_id, "csrf_token": csrf_of(confirm.text)},
    )
    assert done.status_code == 303 and "count=1" in done.headers["location"]
    consumer.wait_for("/flaky", 5)
    assert wait_for(lambda: "0 in total" in web.get("/deliveries", status="failed", target_id=target_id).text)

    refused = web.get("/deliveries", status="nope", since="yesterday")
    assert (
        refused.status_code == 200 and 'id="err-status"' in refused.text and 'id="err-since"' in refused.text
    )


def test_message_logs_filter_export_csv_and_chart(web: Web) -> None:
    for text in ("halo", "apa kabar"):
        inbound(web.client, web.info, {"type": "text", "text": {"body": text}}, sender="6281111111")
    inbound(web.client, web.info, {"type": "text", "text": {"body": "other"}}, sender="6282222222")

    def all_three() -> bool:
        # The count and the rows are two reads: wait until both have seen the third message.
        text = web.get("/logs", direction="inbound").text
        return text.count("<tr>") >= 4 and "3 in total" in text

    assert wait_for(all_three)
    mine = web.get("/logs", recipient="6281111111", direction="inbound")
    assert mine.status_code == 200
    exported = web.get("/logs/export.csv", direction="inbound")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3 and {row["direction"] for row in rows} == {"inbound"}
    refused = web.get("/logs", status="nope")
    assert refused.status_code == 200 and 'id="err-status"' in refused.text
    analytics = web.get("/analytics", days="30")
    assert analytics.status_code == 200
    assert re.search(r'id="total-received">3<', analytics.text)
    assert "<rect" in analytics.text


def test_the_secret_is_rotated_and_shown_once(web: Web) -> None:
    rotated = web.post("/webhooks/secret/rotate", {})
    assert rotated.status_code == 200
    secret = re.search(r'id="new-secret">(whsec_[^<]+)<', rotated.text)
    assert secret and secret.group(1) != web.info["webhook_secret"]
    assert rotated.headers["cache-control"] == "no-store"
    page = web.get("/webhooks")
    assert secret.group(1) not in page.text


def test_another_accounts_objects_and_unsigned_forms_are_refused(server: Server, web: Web) -> None:
    other = create_owner(server, unique_email("other"), PASSWORD)
    foreign = web.client.get(f"/dashboard/p/{other['project_id']}/webhooks")
    assert foreign.status_code == 404
    assert web.get("/deliveries/dlv_nope").status_code == 404
    assert web.get("/webhooks/targets/tgt_nope").status_code == 404
    unsigned = web.client.post(f"{web.base}/webhooks/secret/rotate", data={})
    assert unsigned.status_code == 403
