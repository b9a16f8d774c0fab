"""Browser journeys through the dashboard (headless Chromium): first sign-in, a new key, a channel.

Each step saves a screenshot (``tests/artifacts/dashboard-<journey>-<step>.png``) and each journey
ends without a console error.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import browser, open_page, page_errors, screenshot
from tests.conftest import ENGINES
from tests.e2e.conftest import Server, auth, free_port, serving
from tests.e2e.dashboard import PASSWORD, create_owner, login, unique_email

__all__ = ["browser"]


@pytest.fixture(scope="module", params=ENGINES)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """Meta is a closed port here: checking a live channel fails at once, as when Meta is down."""
    tmp = tmp_path_factory.mktemp(f"dash-journeys-{request.param}")
    async with serving(request.param, tmp, KIREM_META_GRAPH_URL=f"http://127.0.0.1:{free_port()}") as srv:
        yield srv


def test_first_login(server: Server, browser: Browser) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/overview")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    screenshot(page, "dashboard-first-login-1-form")

    page.fill("input[name=email]", str(owner["email"]))
    page.fill("input[name=password]", "not my password")
    page.click("form[action='/dashboard/login'] button[type=submit]")
    expect(page.locator(".alert.error")).to_contain_text("Wrong email or password")
    screenshot(page, "dashboard-first-login-2-wrong-password")

    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/dashboard/login'] button[type=submit]")
    expect(page).to_have_url(f"{server.url}/dashboard/p/{owner['project_id']}/overview")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("nav.sidenav")).to_contain_text("API keys")
    screenshot(page, "dashboard-first-login-3-overview")

    page.click("details.lang summary")
    page.click("a[hreflang=id]")
    expect(page.locator("h1")).to_have_text("Ringkasan")
    screenshot(page, "dashboard-first-login-4-bahasa")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#stat-sent")).to_be_visible()
    screenshot(page, "dashboard-first-login-5-phone")
    assert page_errors(page) == []


def test_create_a_key(server: Server, browser: Browser) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser, permissions=["clipboard-read", "clipboard-write"])
    login(page, server, str(owner["email"]), PASSWORD)
    page.click("nav.sidenav >> text=API keys")
    expect(page.locator("h1")).to_have_text("API keys")
    screenshot(page, "dashboard-create-key-1-list")

    page.fill("#create-key input[name=name]", "shop backend")
    page.select_option("#create-key select[name=mode]", "test")
    page.click("#create-key button[type=submit]")
    secret = page.locator("#new-key-value").inner_text().strip()
    assert secret.startswith("kirem_test_")
    page.click("#new-key button[data-copy]")
    expect(page.locator("#new-key button[data-copy]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "dashboard-create-key-2-shown-once")

    assert httpx.get(f"{server.url}/v1/usage", headers=auth(secret)).status_code == 200
    page.goto(page.url)  # the same page again: the secret is not shown a second time
    expect(page.locator("#new-key")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator("tr", has_text="shop backend")
    expect(row).to_contain_text("kirem_test_")
    screenshot(page, "dashboard-create-key-3-listed")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.danger").click()
    expect(page.locator(".alert.ok")).to_contain_text("revoked")
    expect(page.locator("tr", has_text="shop backend")).to_contain_text("revoked")
    assert httpx.get(f"{server.url}/v1/usage", headers=auth(secret)).status_code == 401
    screenshot(page, "dashboard-create-key-4-revoked")
    assert page_errors(page) == []


def test_connect_a_channel(server: Server, browser: Browser) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser)
    login(page, server, str(owner["email"]), PASSWORD)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/channels")
    expect(page.locator("#channels tbody tr")).to_have_count(1)
    expect(page.locator("#channels")).to_contain_text("GREEN")  # the sandbox number's quality, from Graph
    screenshot(page, "dashboard-connect-channel-1-list")

    page.fill("#connect-live input[name=name]", "Toko Budi")
    page.fill("#connect-live input[name=phone_number_id]", "not-a-number")
    page.fill("#connect-live input[name=waba_id]", "102290129340398")
    page.fill("#connect-live input[name=access_token]", "EAAG-token")
    page.click("#connect-live button[type=submit]")
    expect(page.locator("#err-phone_number_id")).to_contain_text("Meta's numeric id")
    expect(page.locator("#connect-live input[name=name]")).to_have_value("Toko Budi")
    screenshot(page, "dashboard-connect-channel-2-field-error")

    page.fill("#connect-live input[name=phone_number_id]", "106540352242922")
    page.fill("#connect-live input[name=access_token]", "EAAG-token")
    page.click("#connect-live button[type=submit]")
    expect(page.locator(".alert.error")).to_contain_text("Could not reach Meta")
    screenshot(page, "dashboard-connect-channel-3-meta-unreachable")

    page.fill("#connect-live input[name=access_token]", "EAAG-token")
    page.uncheck("#connect-live input[name=verify]")
    page.click("#connect-live button[type=submit]")
    expect(page.locator("#connected")).to_contain_text("Toko Budi")
    expect(page.locator("#channels tbody tr")).to_have_count(2)
    expect(page.locator("#channels tr", has_text="Toko Budi")).to_contain_text("live")
    screenshot(page, "dashboard-connect-channel-4-connected")
    assert page_errors(page) == []
