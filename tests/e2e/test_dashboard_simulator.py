"""Browser journeys through the sandbox simulator: a customer's message becomes an event whose
delivery to a real consumer shows up live; a tap on a button the business sent comes back as a
button reply; a username-only customer writes; the owner's phone sends an echo and contacts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import open_page, page_errors, screenshot
from tests.e2e.conftest import Server, auth
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.dashboard import PASSWORD, create_owner, login, unique_email
from tests.e2e.test_routing import add_target


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def submit(page: Page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to (not the one still showing)."""
    with page.expect_navigation():
        page.click(selector)


def _simulator(page: Page, server: Server, owner: dict[str, str]) -> None:
    login(page, server, owner["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/sandbox")


def test_a_simulated_customer_message_is_delivered_and_shown_live(
    server: Server, client: httpx.Client, browser: Browser, consumer: Consumer
) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    add_target(client, owner["api_key"], consumer.endpoint("/hooks"), events=["messages.received"])
    page = open_page(browser)
    _simulator(page, server, owner)
    expect(page.locator("#activity")).to_contain_text("Nothing yet")

    page.fill("#sim-customer input[name=from]", "6281377770001")
    page.fill("#sim-customer textarea[name=text]", "Mau pesan kue")
    submit(page, "#sim-customer button[type=submit]")
    expect(page.locator(".alert.ok")).to_be_visible()
    [received] = consumer.wait_for("/hooks", 1)
    assert "Mau pesan kue" in received.body.decode()
    expect(page.locator("#activity [data-delivery-status=succeeded]")).to_have_count(1, timeout=20_000)
    screenshot(page, "dashboard-simulator-delivered")

    page.select_option("#sim-type", "location")
    submit(page, "#sim-customer button[type=submit]")
    expect(page.locator("#activity tbody tr")).to_have_count(2, timeout=20_000)
    assert page_errors(page) == []
    page.context.close()


def test_tap_a_button_the_business_sent_and_write_by_username_only(
    server: Server, client: httpx.Client, browser: Browser
) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    key = owner["api_key"]
    customer = "6281377770002"
    client.post(
        "/sandbox/v1/inbound",
        json={
            "phone_number_id": owner["phone_number_id"],
            "from": customer,
            "message": {"type": "text", "text": {"body": "Halo"}},
        },
    ).raise_for_status()
    buttons = {
        "messaging_product": "whatsapp",
        "to": customer,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Jadi pesan?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Ya"}}]},
        },
    }
    sent = client.post("/v1/messages", json=buttons, headers=auth(key))
    assert sent.status_code == 201, sent.text

    page = open_page(browser)
    _simulator(page, server, owner)
    submit(page, "button.chip[data-reply-id=yes]")
    expect(page.locator(".alert.ok")).to_be_visible()

    expect(page.locator("#activity tbody tr")).not_to_have_count(0, timeout=20_000)

    page.fill("#sim-customer input[name=from]", "")
    page.fill("#sim-customer input[name=username]", "@sari.kue")
    page.fill("#sim-customer textarea[name=text]", "Saya tanpa nomor")
    submit(page, "#sim-customer button[type=submit]")
    expect(page.locator(".alert.ok")).to_be_visible()
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/inbox?q=@sari.kue")
    expect(page.locator("#conversation-list a[data-conversation-id]")).to_have_count(1, timeout=20_000)

    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/sandbox")
    page.fill("#sim-echo textarea[name=text]", "Dibalas dari HP")
    page.fill("#sim-echo input[name=to]", customer)
    submit(page, "#sim-echo button[type=submit]")
    expect(page.locator(".alert.ok")).to_be_visible()
    page.click("text=Change the phone's contacts")
    page.fill("#sim-contacts textarea[name=json]", "{not json")
    submit(page, "#sim-contacts button[type=submit]")
    expect(page.locator("#sim-contacts .alert.error")).to_contain_text("not valid JSON")
    screenshot(page, "dashboard-simulator-phone")
    assert page_errors(page) == []
    page.context.close()
