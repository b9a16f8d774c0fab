"""Browser journeys through the inbox, against the real server and its sandbox: a customer writes
and the conversation appears without reloading; the reply goes out inside the 24-hour window; outside
it the reply box offers approved templates and sends one."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.browser import open_page, page_errors, screenshot
from tests.e2e.conftest import Server, auth
from tests.e2e.dashboard import PASSWORD, create_owner, login, unique_email
from tests.e2e.test_routing import inbound

CUSTOMER = "6281355550001"


def test_a_customer_writes_and_the_owner_answers_from_the_inbox(
    server: Server, client: httpx.Client, browser: Browser
) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser)
    login(page, server, owner["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/inbox")
    expect(page.locator("#conversation-list")).to_contain_text("0")
    screenshot(page, "dashboard-inbox-empty")

    inbound(client, owner, {"type": "text", "text": {"body": "Halo, masih buka?"}}, sender=CUSTOMER)
    conversation = page.locator("#conversation-list a[data-conversation-id]")
    expect(conversation).to_have_count(1, timeout=20_000)  # appears without a reload
    expect(conversation).to_contain_text(CUSTOMER)
    conversation.click()
    expect(page.locator("#timeline")).to_contain_text("Halo, masih buka?")
    expect(page.locator("#timeline .sender-customer")).to_have_count(1)

    page.fill("#reply-form textarea[name=text]", "Masih kak, silakan!")
    page.click("#reply-form button[type=submit]")
    expect(page.locator(".alert.ok")).to_be_visible()
    reply = page.locator("#timeline .message.out")
    expect(reply).to_contain_text("Masih kak, silakan!")
    expect(reply.locator(".sender-dashboard")).to_have_count(1)
    expect(reply.locator(".tick-read")).to_have_count(1, timeout=20_000)  # the sandbox's statuses arrive live
    screenshot(page, "dashboard-inbox-reply")

    inbound(client, owner, {"type": "text", "text": {"body": "Terima kasih"}}, sender=CUSTOMER)
    expect(page.locator("#timeline")).to_contain_text("Terima kasih", timeout=20_000)
    assert page_errors(page) == []
    page.context.close()


def test_outside_the_window_the_inbox_sends_an_approved_template(
    server: Server, client: httpx.Client, browser: Browser
) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    hello = {
        "messaging_product": "whatsapp",
        "to": "6289876500",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    assert client.post("/v1/messages", json=hello, headers=auth(owner["api_key"])).status_code == 201
    page = open_page(browser)
    login(page, server, owner["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/inbox")
    page.locator("#conversation-list a[data-conversation-id]").first.click()
    expect(page.locator("#window-closed")).to_be_visible()
    expect(page.locator("#reply-form textarea")).to_have_count(0)
    expect(page.locator("#template-choice")).to_contain_text("hello_world")
    screenshot(page, "dashboard-inbox-window-closed")
    page.click("#reply-form button[type=submit]")
    expect(page.locator(".alert.ok")).to_be_visible()
    expect(page.locator("#timeline .message.out")).to_have_count(2)
    assert page_errors(page) == []
    page.context.close()
