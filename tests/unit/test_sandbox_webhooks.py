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


async def test_sender_signs_retries_and_gives_up_quietly() -> None:
    seen: list[httpx.Request] = []
    answers = iter([httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(204)])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = WebhookSender(client, "http://kirem/webhooks/meta", "s3cret", retry_delays=(0, 0, 0))
        assert await sender.post({"b": 1, "a": [1, 2]}) is True
        assert len(seen) == 3
        last = seen[-1]
        assert last.content == orjson.dumps({"b": 1, "a": [1, 2]}) == b'{"b":1,"a":[1,2]}'
        digest = hmac.new(b"s3cret", last.content, hashlib.sha256).hexdigest()
        assert last.headers["x-hub-signature-256"] == f"sha256={digest}"
        assert last.headers["content-type"] == "application/json"

        failing = WebhookSender(
            httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))),
            "http://kirem/webhooks/meta",
            "s3cret",
            retry_delays=(0, 0),
        )
        assert await failing.post({"x": 1}) is False
        await failing.client.aclose()


async def test_undeliverable_webhooks_never_break_the_app(settings: Settings, database: Database) -> None:
    async with running_sandbox(settings, database, fail_first=1000) as sandbox:
        number = await sandbox.provision()
        response = await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})
        assert response.status_code == 200
        await sandbox.runtime.idle()
        assert sandbox.recorder.posts == []
        assert sandbox.recorder.attempts == 4  # first try and three retries
        assert (await sandbox.inbound(number, {"type": "text", "text": {"body": "again"}})).status_code == 200


async def test_aclose_cancels_pending_work_and_closes_its_own_client(
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
    await asyncio.sleep(0.01)
    pending = list(runtime.pending)
    assert pending  # the status task is waiting for its delay
    await asyncio.wait_for(runtime.aclose(), timeout=5)
    assert all(task.cancelled() for task in pending if task.get_name().startswith("sandbox-statuses"))
    assert runtime.http_client.is_closed
    await runtime.idle()  # nothing left
    assert runtime.spawn(asyncio.sleep(0)) is None  # a closed runtime starts nothing


def test_throughput_limiter_slides_its_window() -> None:
    limiter = ThroughputLimiter(2)
    assert limiter.allow("a", 10.0) and limiter.allow("a", 10.5)
    assert not limiter.allow("a", 10.9)
    assert limiter.allow("b", 10.9)
    assert limiter.allow("a", 11.01)
    assert not limiter.allow("a", 11.2)
