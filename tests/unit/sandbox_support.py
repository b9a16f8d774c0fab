"""Test support: a running sandbox wired to a recorder that stands in for Kirem's ``/webhooks/meta``.

The recorder checks every signature; :func:`running_sandbox` gives an ASGI client, the recorder and
a way to provision numbers, and closes everything afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.app import create_sandbox_app
from kirem.sandbox.provisioning import ProvisionedNumber, provision_number
from kirem.sandbox.runtime import Clock, SandboxRuntime
from kirem.sandbox.webhooks import SIGNATURE_HEADER, resolve_app_secret


@dataclass
class RecordedWebhook:
    url: str
    body: bytes
    headers: httpx.Headers
    signature_valid: bool

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value

    @property
    def field(self) -> str:
        return str(self.payload["entry"][0]["changes"][0]["field"])

    @property
    def value(self) -> dict[str, Any]:
        value: dict[str, Any] = self.payload["entry"][0]["changes"][0]["value"]
        return value


@dataclass
class WebhookRecorder:
    """Records posts; answers HTTP 500 to the first ``fail_first`` of them, 200 afterwards."""

    secret: str
    fail_first: int = 0
    attempts: int = 0
    posts: list[RecordedWebhook] = field(default_factory=list)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return httpx.Response(500)
        body = request.content
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(request.headers.get(SIGNATURE_HEADER, ""), expected)
        self.posts.append(RecordedWebhook(str(request.url), body, request.headers, valid))
        return httpx.Response(200, json={"ok": True})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def statuses(self, wamid: str | None = None) -> list[dict[str, Any]]:
        found = []
        for post in self.posts:
            if post.field == "messages":
                found.extend(s for s in post.value.get("statuses", []) if wamid is None or s["id"] == wamid)
        return found

    def messages(self) -> list[dict[str, Any]]:
        return [m for post in self.posts if post.field == "messages" for m in post.value.get("messages", [])]

    def template_updates(self) -> list[dict[str, Any]]:
        return [post.value for post in self.posts if post.field == "message_template_status_update"]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2025, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class SandboxHarness:
    app: FastAPI
    client: httpx.AsyncClient
    recorder: WebhookRecorder
    database: Database

    @property
    def runtime(self) -> SandboxRuntime:
        runtime: SandboxRuntime = self.app.state.sandbox
        return runtime

    async def provision(self, verified_name: str = "Kirem Sandbox") -> ProvisionedNumber:
        async with self.database.transaction() as session:
            return await provision_number(session, verified_name=verified_name, now=self.runtime.now())

    async def inbound(
        self,
        number: ProvisionedNumber,
        message: dict[str, Any],
        sender: str = "62812345678",
        name: str = "Budi",
    ) -> httpx.Response:
        body = {
            "phone_number_id": number.phone_number_id,
            "from": sender,
            "profile_name": name,
            "message": message,
        }
        return await self.client.post("/v1/inbound", json=body)

    async def send(
        self, number: ProvisionedNumber, body: dict[str, Any], version: str = "v23.0"
    ) -> httpx.Response:
        return await self.client.post(
            f"/{version}/{number.phone_number_id}/messages", json=body, headers=bearer(number.access_token)
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_sandbox(
    settings: Settings, database: Database, *, clock: Clock | None = None, fail_first: int = 0
) -> AsyncIterator[SandboxHarness]:
    recorder = WebhookRecorder(resolve_app_secret(settings), fail_first=fail_first)
    async with httpx.AsyncClient(transport=recorder.transport) as http:
        app = create_sandbox_app(settings, database, http_client=http, clock=clock)
        app.state.sandbox.outbox.retry_delays = (0.0,)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
                yield SandboxHarness(app, client, recorder, database)
        finally:
            await app.state.sandbox.aclose()


JUNK: list[Any] = [None, 0, -1.5, True, "", "x", [], [1], {}, {"a": 1}]


def mutations(value: Any) -> Iterator[Any]:
    """Every copy of ``value`` with one node (at any depth) replaced by a junk value or one key dropped."""
    yield from JUNK
    if isinstance(value, dict):
        for key, child in value.items():
            for replaced in mutations(child):
                yield {**value, key: replaced}
            yield {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list):
        for index, child in enumerate(value):
            for replaced in mutations(child):
                yield [*value[:index], replaced, *value[index + 1 :]]
