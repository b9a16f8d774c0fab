"""Browser journeys through the webhook pages (headless Chromium): a target and a rule, the rule
tester, a broken target whose failed delivery is replayed once it is fixed, logs and analytics.

Each step saves a screenshot (``tests/artifacts/dashboard-<journey>-<step>.png``) and each journey
ends without a console error.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import browser, open_page, page_errors, screenshot
from tests.conftest import ENGINES
from tests.e2e.conftest import Server, free_port, serving
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.dashboard import PASSWORD, create_owner, login, unique_email
from tests.e2e.test_routing import inbound

__all__ = ["browser"]


@pytest.fixture(scope="module", params=ENGINES)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    async with serving(request.param, tmp_path_factory.mktemp(f"dash-hooks-{request.param}")) as srv:
        yield srv


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def _signed_in(browser: Browser, server: Server) -> tuple[Page, dict[str, str]]:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, server, str(owner["email"]), PASSWORD)
    return page, owner


def test_add_a_target_and_a_rule_then_test_the_rule(
    server: Server, browser: Browser, consumer: Consumer
) -> None:
    page, _ = _signed_in(browser, server)
    page.click("nav.sidenav >> text=Webhooks")
    expect(page.locator("h1")).to_have_text("Webhooks")
    screenshot(page, "dashboard-rules-1-empty")

    page.click("text=Add a target")
    page.fill("input[name=url]", "not a url")
    page.click("form button.primary")
    expect(page.locator("#err-url")).to_be_visible()
    screenshot(page, "dashboard-rules-2-target-error")
    page.fill("input[name=url]", consumer.endpoint("/orders"))
    page.fill("input[name=description]", "Shop orders")
    page.check("input[name=events][value='messages.received']")
    page.fill("textarea[name=headers]", "Authorization: Bearer shop-token")
    page.click("form button.primary")
    expect(page.locator(".alert.ok")).to_contain_text("Target created")
    expect(page.locator("textarea[name=headers]")).to_have_value("Authorization: ****")
    screenshot(page, "dashboard-rules-3-target-saved")

    page.click("text=Send a test event")
    expect(page.locator("#test-outcome")).to_contain_text("acknowledged")
    assert consumer.wait_for("/orders", 1)[0].headers["authorization"] == "Bearer shop-token"
    screenshot(page, "dashboard-rules-4-test-event")

    page.click("text=Edit target")
    page.click("text=Add a rule")
    page.fill("input[name=name]", "Orders only")
    page.check("input[name=message_types][value=text]")
    page.fill("textarea[name=keywords]", "order\npesan")
    page.fill("input[name=regex]", "(")
    page.click("#rule-form button.primary")
    expect(page.locator("#err-regex")).to_contain_text("RE2")
    screenshot(page, "dashboard-rules-5-rule-error")
    page.fill("input[name=regex]", "#[0-9]+")
    page.check("input[name=mode][value=json]")
    expect(page.locator("textarea[name=conditions_json]")).to_be_visible()
    expect(page.locator("textarea[name=conditions_json]")).to_have_value(re.compile(r'"keywords"'))
    screenshot(page, "dashboard-rules-6-raw-json")
    page.check("input[name=mode][value=fields]")
    expect(page.locator("textarea[name=keywords]")).to_have_value("order\npesan")
    page.click("#rule-form button.primary")
    expect(page.locator(".alert.ok")).to_contain_text("Rule created")
    expect(page.locator("table").nth(1)).to_contain_text("Orders only")
    screenshot(page, "dashboard-rules-7-list")

    page.click("text=Rule tester")
    page.fill(
        "textarea[name=sample]", '{"type": "messages.received", "from": "6281234567", "text": "order #12"}'
    )
    page.click("form button.primary")
    expect(page.locator("#tester-result")).to_contain_text("matched")
    screenshot(page, "dashboard-rules-8-tester-match")
    page.fill("textarea[name=sample]", '{"text": "order without a number"}')
    page.click("form button.primary")
    expect(page.locator("#tester-result")).to_contain_text("does not match")
    screenshot(page, "dashboard-rules-9-tester-miss")
    assert page_errors(page) == []


def test_break_the_target_and_replay_the_failed_delivery(
    server: Server, browser: Browser, consumer: Consumer
) -> None:
    page, owner = _signed_in(browser, server)
    closed = f"http://127.0.0.1:{free_port()}/hook"
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/webhooks/targets/new")
    page.fill("input[name=url]", closed)
    page.fill("input[name=max_attempts]", "1")
    page.click("form button.primary")
    expect(page.locator(".alert.ok")).to_contain_text("Target created")

    with httpx.Client(base_url=server.url, timeout=30) as client:
        inbound(client, owner, {"type": "text", "text": {"body": "halo, pesanan saya?"}})
    page.click("nav.sidenav >> text=Deliveries")
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button.primary")
    for _ in range(100):
        if page.locator("table tbody tr").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator("table tbody tr")).to_have_count(1)
    screenshot(page, "dashboard-replay-1-failed")

    page.click("table tbody tr a")
    expect(page.locator("#delivery-status")).to_have_text("failed")
    expect(page.locator("details.attempt").first).to_contain_text("X-Kirem-Signature")
    screenshot(page, "dashboard-replay-2-attempt")
    delivery_url = page.url

    page.click("text=" + closed)
    page.fill("input[name=url]", consumer.endpoint("/fixed"))
    page.click("form button.primary")
    expect(page.locator(".alert.ok")).to_contain_text("Target saved")

    page.goto(delivery_url)
    page.click("text=Replay this delivery")
    expect(page.locator(".alert.ok")).to_contain_text("queued again")
    assert consumer.wait_for("/fixed", 1)
    for _ in range(100):
        if page.locator("#delivery-status").inner_text() == "succeeded":
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator("#delivery-status")).to_have_text("succeeded")
    expect(page.locator("details.attempt").first).to_contain_text("200")
    screenshot(page, "dashboard-replay-3-succeeded")

    page.click("text=← Deliveries")
    page.click("text=Replay these…")
    expect(page.locator("#replay-count")).to_contain_text("1 delivery")
    screenshot(page, "dashboard-replay-4-bulk-confirm")
    page.click("form button.primary")
    expect(page.locator(".alert.ok")).to_contain_text("1 delivery(ies) queued again")
    assert consumer.wait_for("/fixed", 2)

    page.click("nav.sidenav >> text=Message logs")
    expect(page.locator("#logs-total")).to_contain_text("1 in total")
    screenshot(page, "dashboard-replay-5-logs")
    page.click("nav.sidenav >> text=Analytics")
    expect(page.locator("#total-received")).to_have_text("1")
    screenshot(page, "dashboard-replay-6-analytics")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(delivery_url)
    screenshot(page, "dashboard-replay-7-phone")
    assert page_errors(page) == []
