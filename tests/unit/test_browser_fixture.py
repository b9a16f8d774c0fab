"""The browser fixture itself: a local page renders, and its console errors are collected."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser

from tests.browser import open_page, page_errors

PAGE = b"""<!doctype html><html><head><title>probe</title></head>
<body><button id="b" onclick="document.title='clicked'">go</button>
<script>console.error("seen by the fixture")</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def local_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_page_renders_and_its_console_errors_are_collected(browser: Browser, local_site: str) -> None:
    page = open_page(browser)
    page.goto(local_site)
    page.click("#b")
    assert page.title() == "clicked"
    assert page_errors(page) == ["seen by the fixture"]
    page.context.close()
