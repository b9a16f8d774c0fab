"""A headless Chromium (Debian's ``chromium``, driven by Playwright) for the browser tests.

No browser is downloaded: Playwright drives the system Chromium at ``CHROMIUM``. A page opened
through :func:`open_page` records every console error and uncaught exception, so a journey can end
with ``assert page_errors(page) == []``. Screenshots go to ``tests/artifacts/`` (ignored by git) so a
failed or finished journey can be looked at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = os.environ.get("KIREM_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"Chromium is required in CI (apt-get install chromium); not found at {CHROMIUM}")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless Chromium for one test (tests using it are sync: Playwright's sync API).

    Per test, not per module: while Playwright's sync API is open, its event loop runs in this
    thread, and pytest-asyncio cannot set up the next engine's (async) server fixture.
    """
    executable = _chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Browser, **context_options: object) -> Page:
    """A page in a fresh context (own cookies) that collects console errors and page errors.

    Not collected: Chromium's note that the document itself came with a 4xx status.
    """
    context = browser.new_context(**context_options)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # A page answered with its status (a form re-shown with field errors is a 400, a refusal a
        # 403): Chromium logs that as a failed load of the document itself, which is not an error
        # of the page. A failing script, stylesheet or fetch of the page is still collected.
        if message.text.startswith("Failed to load resource") and message.location.get("url") == page.url:
            return
        errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.kirem_errors = errors  # type: ignore[attr-defined]
    return page


def page_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions seen by a page opened with :func:`open_page`."""
    return list(page.kirem_errors)  # type: ignore[attr-defined]


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
