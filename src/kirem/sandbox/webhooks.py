"""Signed webhook posts to Kirem, the way Meta posts them to an app's callback URL.

The body is compact JSON; ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, exact body)>``.
The app secret is ``KIREM_SANDBOX_APP_SECRET`` or one generated on first run and kept in
``<data_dir>/sandbox_app_secret``: Kirem verifies sandbox webhooks with :func:`resolve_app_secret`.
Every webhook is posted from the outbox (:mod:`kirem.sandbox.outbox`), which retries failed posts.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from yarl import URL

from kirem.config import Settings
from kirem.keyfiles import load_or_create_secret
from kirem.meta.signatures import sign
from kirem.meta.transport import AiohttpTransport, client_headers
from kirem.sandbox.models import SandboxNumber

APP_SECRET_FILE = "sandbox_app_secret"
WEBHOOK_PATH = "/webhooks/meta"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def resolve_app_secret(settings: Settings) -> str:
    """The secret sandbox webhooks are signed with (Meta's "app secret" for the sandbox app)."""
    if settings.sandbox_app_secret:
        return settings.sandbox_app_secret
    return load_or_create_secret(settings.ensure_data_dir() / APP_SECRET_FILE, lambda: secrets.token_hex(16))


def webhook_url(settings: Settings) -> str:
    return f"{settings.base_url}{WEBHOOK_PATH}"


def metadata(number: SandboxNumber) -> dict[str, str]:
    return {"display_phone_number": number.display_phone_number, "phone_number_id": number.phone_number_id}


def envelope(
    waba_id: str, value: dict[str, Any], field: str = "messages", time: int | None = None
) -> dict[str, Any]:
    """Meta's outer shape: one entry for the WABA holding one change."""
    entry: dict[str, Any] = {"id": waba_id}
    if time is not None:
        entry["time"] = time
    entry["changes"] = [{"value": value, "field": field}]
    return {"object": "whatsapp_business_account", "entry": [entry]}


InProcessReceiver = Callable[[bytes, str], Awaitable[int]]
"""Kirem's ``POST /webhooks/meta`` called in this process: (body, signature header) -> HTTP status."""


class WebhookSender:
    """Posts signed bodies to one URL, one attempt at a time (the outbox retries). Never raises.

    ``direct``, the pooled transport under ``client`` if it is one, takes the posts straight to
    aiohttp (three per sandbox send), without httpx's request and response objects. ``in_process``,
    given when ``url`` is the address of the Kirem this sandbox is mounted in, hands the same signed
    bodies to that Kirem's webhook receiver without an HTTP round trip; its status counts as the
    post's answer.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        secret: str,
        *,
        direct: AiohttpTransport | None = None,
        in_process: InProcessReceiver | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.secret = secret
        self.direct = direct
        self.in_process = in_process
        self._default_headers = client_headers(client)

    async def attempt(self, body: bytes) -> str | None:
        """Post ``body`` once: ``None`` when Kirem answered 2xx, else why the post failed."""
        signature = sign(self.secret, body)
        if self.in_process is not None:
            try:
                status = await self.in_process(body, signature)
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"
            return None if 200 <= status < 300 else f"HTTP {status}"
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        try:
            if self.direct is None:
                status = (await self.client.post(self.url, content=body, headers=headers)).status_code
            else:
                sent = [*self._default_headers, *headers.items()]
                status, _ = await self.direct.exchange("POST", URL(self.url), sent, body, self.client.timeout)
        except (httpx.HTTPError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if 200 <= status < 300 else f"HTTP {status}"
