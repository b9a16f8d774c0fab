"""Browser journeys through templates and the business profile, against the real server's sandbox:
a template is written with a live preview, refused inline when Meta's rules say no, submitted,
listed with its review status and deleted; the profile is edited and read back."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser import open_page, page_errors, screenshot
from tests.e2e.conftest import Server
from tests.e2e.dashboard import PASSWORD, create_owner, login, unique_email


def test_create_a_template_with_a_live_preview_then_delete_it(server: Server, browser: Browser) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser)
    login(page, server, owner["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/templates")
    expect(page.locator("#templates")).to_contain_text("hello_world")
    page.click("text=New template")

    page.fill("input[name=name]", "Bad Name")
    page.fill("textarea[name=body]", "Halo {{1}}, pesanan {{3}} sudah dikirim.")
    expect(page.locator("#preview-variables")).to_contain_text("without gaps")
    page.fill("textarea[name=body]", "Halo {{1}}, pesanan {{2}} sudah dikirim.")
    page.fill("textarea[name=body_examples]", "Budi\nINV-001")
    page.fill("input[name=header]", "Pesanan")
    page.fill("textarea[name=quick_replies]", "Terima kasih\nTanya CS")
    expect(page.locator("#preview-body")).to_have_text("Halo Budi, pesanan INV-001 sudah dikirim.")
    expect(page.locator("#preview-buttons .preview-button")).to_have_count(2)
    expect(page.locator("#preview-variables")).not_to_contain_text("without gaps")
    screenshot(page, "dashboard-template-preview")
    page.evaluate("document.querySelector('input[name=name]').removeAttribute('pattern')")
    page.click("#template-form button[type=submit]")
    expect(page.locator("#err-name")).to_contain_text("lowercase letters")  # the API's rule, inline

    page.fill("input[name=name]", "order_shipped")
    page.click("#template-form button[type=submit]")
    expect(page.locator(".alert.ok")).to_contain_text("order_shipped")
    row = page.locator("#templates tr[data-template=order_shipped]")
    expect(row).to_be_visible()
    assert row.locator(".badge").inner_text() in ("PENDING", "APPROVED")  # the sandbox reviews it
    screenshot(page, "dashboard-template-listed")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.danger").click()
    expect(page.locator(".alert.ok")).to_contain_text("deleted")
    expect(page.locator("#templates tr[data-template=order_shipped]")).to_have_count(0)
    assert page_errors(page) == []
    page.context.close()


def test_edit_the_business_profile(server: Server, browser: Browser) -> None:
    owner = create_owner(server, unique_email(), PASSWORD)
    page = open_page(browser)
    login(page, server, owner["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/p/{owner['project_id']}/profile")
    page.fill("input[name=about]", "Toko kue sejak 1998")
    page.select_option("select[name=vertical]", "RETAIL")
    page.fill("input[name=website1]", "https://toko.example.com")
    page.click("#profile-form button[type=submit]")
    expect(page.locator(".alert.ok")).to_be_visible()
    expect(page.locator("input[name=about]")).to_have_value("Toko kue sejak 1998")
    expect(page.locator("input[name=website1]")).to_have_value("https://toko.example.com")
    page.fill("input[name=email]", "bukan-email")
    page.evaluate("document.querySelector('input[name=email]').type = 'text'")
    page.click("#profile-form button[type=submit]")
    expect(page.locator("#err-email")).to_be_visible()
    screenshot(page, "dashboard-profile")
    assert page_errors(page) == []
    page.context.close()
