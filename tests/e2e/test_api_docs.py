"""/docs (Swagger UI) and /redoc (ReDoc) render offline: every request the pages make stays on
the server's loopback address, and the browser reports no error."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.browser import open_page, page_errors, screenshot
from tests.e2e.conftest import Server, start_server, stop_server


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The pages do not depend on the engine: one SQLite server is enough (started without an
    event loop of pytest's, which Playwright's sync API would collide with)."""
    tmp = tmp_path_factory.mktemp("api-docs")
    process, srv = start_server(tmp, f"sqlite+aiosqlite:///{tmp / 'kirem.db'}")
    try:
        yield srv
    finally:
        stop_server(process)


def offline_page(browser: Browser, server: Server) -> tuple[Page, list[str]]:
    """A page whose requests to any other host are recorded and aborted, as on a machine offline."""
    page = open_page(browser)
    own = urlsplit(server.url).netloc
    left: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.context.route("**/*", only_loopback)
    return page, left


def test_swagger_ui_renders_offline(browser: Browser, docs_server: Server) -> None:
    page, left = offline_page(browser, docs_server)
    page.goto(f"{docs_server.url}/docs")
    page.wait_for_selector(".opblock-tag", timeout=60_000)
    assert page.locator(".opblock").count() > 50
    assert page.locator("button.authorize").count() == 1, "no Authorize button: no security scheme"
    screenshot(page, "swagger-ui")
    assert left == []
    assert page_errors(page) == []
    page.context.close()


def test_redoc_renders_offline(browser: Browser, docs_server: Server) -> None:
    page, left = offline_page(browser, docs_server)
    page.goto(f"{docs_server.url}/redoc")
    page.wait_for_selector("[role=menuitem], .menu-content li", timeout=60_000)
    page.wait_for_selector("h2", timeout=60_000)  # ReDoc's page is too long for a full-page screenshot
    assert left == []
    assert page_errors(page) == []
    page.context.close()
