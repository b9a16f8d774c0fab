"""Webhook signing, the app secret, retries, and the runtime's task handling."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import stat
from pathlib import Path

import httpx
import orjson

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox import create_sandbox_app, provision_number, resolve_app_secret
from kirem.sandbox.runtime import ThroughputLimiter
from kirem.sandbox.webhooks import WebhookSender, sign
from tests.unit.sandbox_support import running_sandbox


def test_configured_app_secret_wins(settings: Settings) -> None:
    assert resolve_app_secret(settings) == "sandbox-app-secret"


def test_generated_app_secret_is_kept_private_and_stable(settings: Settings) -> None:
    generated = settings.model_copy(update={"sandbox_app_secret": None})
    first = resolve_app_secret(generated)
    assert len(first) == 32 and int(first, 16) >= 0
    assert resolve_app_secret(generated) == first
    path = Path(generated.data_dir) / "sandbox_app_secret"
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert sign("secret", body) == f"sha256={expected}"


async def test_sender_signs_and_reports_each_attempt_without_raising() -> None:
    seen: list[httpx.Request] = []
    answers = iter([httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(204)])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = WebhookSender(client, "http://kirem/webhooks/meta", "s3cret")
        body = orjson.dumps({"b": 1, "a": [1, 2]})
        assert await sender.attempt(body) == "ConnectError: refused"
        assert await sender.attempt(body) == "HTTP 503"
        assert await sender.attempt(body) is None
        last = seen[-1]
        assert last.content == body == b'{"b":1,"a":[1,2]}'
        digest = hmac.new(b"s3cret", last.content, hashlib.sha256).hexdigest()
        assert last.headers["x-hub-signature-256"] == f"sha256={digest}"
        assert last.headers["content-type"] == "application/json"


async def test_undeliverable_webhooks_never_break_the_app(settings: Settings, database: Database) -> None:
    async with running_sandbox(settings, database, fail_first=1000) as sandbox:
        sandbox.runtime.outbox.retry_delays = (3600.0,)
        number = await sandbox.provision()
        response = await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})
        assert response.status_code == 200
        for _ in range(500):  # until the sandbox tried once
            if sandbox.recorder.attempts:
                break
            await asyncio.sleep(0.01)
        assert sandbox.recorder.posts == []
        assert (await sandbox.inbound(number, {"type": "text", "text": {"body": "again"}})).status_code == 200
        assert await sandbox.runtime.outbox.waiting() == 2  # kept until Kirem accepts them


async def test_aclose_stops_the_outbox_keeps_what_it_owes_and_closes_its_own_client(
    settings: Settings, database: Database
) -> None:
    # Nothing listens on the discard port; the 30 s delay means no post is even attempted.
    slow = settings.model_copy(
        update={"sandbox_status_delay_seconds": 30.0, "public_url": "http://127.0.0.1:9"}
    )
    app = create_sandbox_app(slow, database)
    runtime = app.state.sandbox
    async with database.transaction() as session:
        number = await provision_number(session)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        response = await client.post(
            f"/v23.0/{number.phone_number_id}/messages",
            json={"messaging_product": "whatsapp", "to": "62812345678", "text": {"body": "hi"}},
            headers={"Authorization": f"Bearer {number.access_token}"},
        )
        assert response.status_code == 200
    await asyncio.wait_for(runtime.aclose(), timeout=5)
    assert runtime.http_client.is_closed
    assert not runtime.pending
    assert await runtime.outbox.waiting() == 1  # the failed status, due in 30 s, for the next start
    assert runtime.spawn(asyncio.sleep(0)) is None  # a closed runtime starts nothing


def test_throughput_limiter_slides_its_window() -> None:
    limiter = ThroughputLimiter(2)
    assert limiter.allow("a", 10.0) and limiter.allow("a", 10.5)
    assert not limiter.allow("a", 10.9)
    assert limiter.allow("b", 10.9)
    assert limiter.allow("a", 11.01)
    assert not limiter.allow("a", 11.2)
