"""The sandbox's webhook outbox: written with the change it reports, retried with backoff, leased."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.app import create_sandbox_app
from kirem.sandbox.messages import accept_send
from kirem.sandbox.models import SandboxNumber, SandboxOutbox, SandboxWindow
from kirem.sandbox.outbox import GIVE_UP_AFTER, RETRY_DELAYS, WebhookOutbox, enqueue, retry_delay
from kirem.sandbox.provisioning import provision_number
from kirem.sandbox.simulator import receive_inbound
from kirem.sandbox.webhooks import WebhookSender, resolve_app_secret
from tests.unit.sandbox_support import FakeClock, WebhookRecorder, bearer, running_sandbox

CUSTOMER = "62812345678"
URL = "http://kirem/webhooks/meta"
HELLO = {
    "messaging_product": "whatsapp",
    "to": CUSTOMER,
    "type": "template",
    "template": {"name": "hello_world", "language": {"code": "en_US"}},
}


class Abort(Exception):
    pass


async def outbox_rows(database: Database) -> list[SandboxOutbox]:
    async with database.session() as session:
        return list((await session.scalars(select(SandboxOutbox).order_by(SandboxOutbox.id))).all())


def body_of(row: SandboxOutbox) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(row.body)
    return value


def change_of(row: SandboxOutbox) -> dict[str, Any]:
    value: dict[str, Any] = body_of(row)["entry"][0]["changes"][0]
    return value


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, WebhookRecorder]]:
    recorder = WebhookRecorder(resolve_app_secret(settings))
    async with httpx.AsyncClient(transport=recorder.transport) as client:
        yield client, recorder


def outbox_for(
    database: Database, client: httpx.AsyncClient, clock: FakeClock, worker_id: str, **options: Any
) -> WebhookOutbox:
    sender = WebhookSender(client, URL, "sandbox-app-secret")
    return WebhookOutbox(database, sender, clock, lease_seconds=30, worker_id=worker_id, **options)


async def put(database: Database, clock: FakeClock, *lanes: str) -> None:
    async with database.transaction() as session:
        for index, lane in enumerate(lanes):
            enqueue(session, lane=lane, payload={"lane": lane, "n": index}, now=clock())


# --- written in the same transaction as the change ----------------------------------------------------


async def test_inbound_message_and_its_webhook_commit_together(
    settings: Settings, database: Database
) -> None:
    clock = FakeClock()
    async with running_sandbox(settings, database, clock=clock) as sandbox:
        number = await sandbox.provision()
        body = {
            "phone_number_id": number.phone_number_id,
            "from": CUSTOMER,
            "message": {"type": "text", "text": {"body": "Halo"}},
        }
        with pytest.raises(Abort):
            async with database.transaction() as session:
                wamid = await receive_inbound(session, sandbox.runtime, body)
                [row] = (await session.scalars(select(SandboxOutbox))).all()
                assert change_of(row)["value"]["messages"][0]["id"] == wamid
                raise Abort
        assert await outbox_rows(database) == []
        async with database.session() as session:
            assert await session.get(SandboxWindow, (number.phone_number_id, CUSTOMER)) is None

        async with database.transaction() as session:
            wamid = await receive_inbound(session, sandbox.runtime, body)
        [row] = await outbox_rows(database)
        assert row.lane == f"{number.phone_number_id}:{CUSTOMER}"
        assert row.due_at == clock() and row.attempts == 0 and row.leased_by is None
        assert change_of(row)["field"] == "messages"
        assert change_of(row)["value"]["messages"][0]["id"] == wamid
        async with database.session() as session:
            assert await session.get(SandboxWindow, (number.phone_number_id, CUSTOMER)) is not None


async def test_statuses_are_written_with_the_send_and_due_after_the_delay(
    settings: Settings, database: Database
) -> None:
    clock = FakeClock()
    delayed = settings.model_copy(update={"sandbox_status_delay_seconds": 2.5})
    async with running_sandbox(delayed, database, clock=clock) as sandbox:
        number = await sandbox.provision()
        async with database.transaction() as session:
            sandbox_number = await session.get(SandboxNumber, number.phone_number_id)
            assert sandbox_number is not None
            accepted = await accept_send(session, sandbox.runtime, sandbox_number, HELLO)
        await sandbox.runtime.send_log.record(accepted.issued)
        wamid = accepted.answer["messages"][0]["id"]
        rows = await outbox_rows(database)
        statuses = [change_of(row)["value"]["statuses"][0] for row in rows]
        assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
        assert {s["id"] for s in statuses} == {wamid}
        assert {row.lane for row in rows} == {f"status:{wamid}"}
        start = clock()
        assert [row.due_at for row in rows] == [start + timedelta(seconds=2.5 * k) for k in (1, 2, 3)]
        assert [s["timestamp"] for s in statuses] == [str(int(row.due_at.timestamp())) for row in rows]


async def test_every_webhook_the_sandbox_emits_goes_through_the_outbox(
    settings: Settings, database: Database
) -> None:
    """Kirem is down: each simulator call, send and template review leaves its webhook waiting."""
    async with running_sandbox(settings, database, fail_first=10**6) as sandbox:
        sandbox.runtime.outbox.retry_delays = (3600.0,)
        number = await sandbox.provision()
        pnid = number.phone_number_id
        assert (await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})).status_code == 200
        calls = {
            "/v1/echo": {
                "phone_number_id": pnid,
                "to": CUSTOMER,
                "message": {"type": "text", "text": {"body": "Hi"}},
            },
            "/v1/history": {
                "phone_number_id": pnid,
                "threads": [{"id": CUSTOMER, "messages": [{"text": "lama"}]}],
            },
            "/v1/contacts": {
                "phone_number_id": pnid,
                "contacts": [{"phone_number": CUSTOMER, "full_name": "Budi"}],
            },
        }
        for path, body in calls.items():
            assert (await sandbox.client.post(path, json=body)).status_code == 200, path
        assert (await sandbox.send(number, HELLO)).status_code == 200
        template = {
            "name": "order_update",
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Hi"}],
        }
        created = await sandbox.client.post(
            f"/v23.0/{number.waba_id}/message_templates", json=template, headers=bearer(number.access_token)
        )
        assert created.status_code == 200, created.text
        await asyncio.gather(*sandbox.runtime.pending)  # the review (review_seconds is 0 in tests)
        for _ in range(200):  # until each lane's head was tried once and failed
            rows = await outbox_rows(database)
            if all(row.attempts for row in rows if row.due_at <= sandbox.runtime.now()) and len(rows) >= 9:
                break
            await asyncio.sleep(0.01)
        fields = Counter(change_of(row)["field"] for row in await outbox_rows(database))
        assert fields == {
            "messages": 4,  # the customer's message and the send's three statuses
            "smb_message_echoes": 1,
            "history": 1,
            "smb_app_state_sync": 1,
            "message_template_status_update": 1,
        }
        assert sandbox.recorder.posts == []
        assert all(row.last_error == "HTTP 500" for row in await outbox_rows(database) if row.attempts)


# --- retries with backoff --------------------------------------------------------------------------


def test_retry_delays_grow_then_repeat() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(len(RETRY_DELAYS)) == retry_delay(1000) == 300.0


async def test_a_failing_receiver_gets_the_webhook_later_with_backoff(
    database: Database, http: tuple[httpx.AsyncClient, WebhookRecorder]
) -> None:
    client, recorder = http
    recorder.fail_first = 3
    clock = FakeClock()
    outbox = outbox_for(database, client, clock, "a", retry_delays=(1.0, 2.0, 4.0))
    await put(database, clock, "lane")
    start = clock()
    for failures, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        assert await outbox.run_once() == 1
        [row] = await outbox_rows(database)
        assert (row.attempts, row.last_error, row.leased_by) == (failures, "HTTP 500", None)
        assert row.due_at == clock() + timedelta(seconds=wait)
        assert await outbox.run_once() == 0  # not due before its backoff
        clock.advance(seconds=wait)
    assert clock() == start + timedelta(seconds=7)
    assert await outbox.run_once() == 1
    assert await outbox_rows(database) == []
    assert recorder.attempts == 4
    [post] = recorder.posts
    assert post.signature_valid and post.payload == {"lane": "lane", "n": 0}


async def test_a_webhook_body_escapes_non_ascii_as_metas_does(
    database: Database, http: tuple[httpx.AsyncClient, WebhookRecorder]
) -> None:
    """Meta's webhook bodies are ASCII (``\\uXXXX`` escapes), and consumers re-create that escaping
    before they check the signature (whatsapp-api-js does): a raw UTF-8 body would fail there."""
    client, recorder = http
    clock = FakeClock()
    outbox = outbox_for(database, client, clock, "a")
    async with database.transaction() as session:
        enqueue(session, lane="lane", payload={"text": "Halo café 👋"}, now=clock())
    assert await outbox.run_once() == 1
    [post] = recorder.posts
    assert post.body == b'{"text":"Halo caf\\u00e9 \\ud83d\\udc4b"}'
    assert post.signature_valid and post.payload == {"text": "Halo café 👋"}


async def test_unreachable_kirem_is_retried_and_given_up_after_seven_days(database: Database) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    clock = FakeClock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        outbox = outbox_for(database, client, clock, "a", retry_delays=(3600.0,))
        await put(database, clock, "lane")
        assert await outbox.run_once() == 1
        [row] = await outbox_rows(database)
        assert row.last_error is not None and row.last_error.startswith("ConnectError")
        clock.advance(seconds=GIVE_UP_AFTER.total_seconds() - 1)
        assert await outbox.run_once() == 1
        assert [row.attempts for row in await outbox_rows(database)] == [2]
        clock.advance(seconds=3600)
        assert await outbox.run_once() == 1
        assert await outbox_rows(database) == []


async def test_a_receiver_failing_for_a_while_still_gets_every_webhook_in_order(
    settings: Settings, database: Database
) -> None:
    async with running_sandbox(settings, database, fail_first=12) as sandbox:
        number = await sandbox.provision()
        inbound = (await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})).json()["wamid"]
        wamid = (await sandbox.send(number, HELLO)).json()["messages"][0]["id"]
        await sandbox.runtime.idle()
        assert [m["id"] for m in sandbox.recorder.messages()] == [inbound]
        assert [s["status"] for s in sandbox.recorder.statuses(wamid)] == ["sent", "delivered", "read"]
        assert sandbox.recorder.attempts == 12 + 4
        assert await outbox_rows(database) == []


# --- order and lanes ---------------------------------------------------------------------------------


async def test_a_lane_waits_for_its_head_while_other_lanes_go_on(database: Database) -> None:
    failing = {"left": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        posted.append(orjson.loads(request.content))
        if b'"slow"' in request.content and failing["left"]:
            failing["left"] -= 1
            return httpx.Response(503)
        return httpx.Response(200)

    posted: list[dict[str, Any]] = []
    clock = FakeClock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        outbox = outbox_for(database, client, clock, "a", retry_delays=(0.0,))
        await put(database, clock, "slow", "fast", "slow", "fast", "slow")
        rounds = 0
        while await outbox_rows(database):
            await outbox.run_once()
            rounds += 1
    # Each round takes only the head of each lane; "slow" is retried twice before its rows move on.
    assert rounds == 5
    slow = [p["n"] for p in posted if p["lane"] == "slow"]
    assert slow == [0, 0, 0, 2, 4]
    assert [p["n"] for p in posted if p["lane"] == "fast"] == [1, 3]
    assert posted.index({"lane": "fast", "n": 3}) < posted.index({"lane": "slow", "n": 2})


# --- leases ------------------------------------------------------------------------------------------


async def test_a_leased_row_is_left_alone_until_its_lease_expires(
    database: Database, http: tuple[httpx.AsyncClient, WebhookRecorder]
) -> None:
    client, recorder = http
    recorder.fail_first = 1
    clock = FakeClock()
    first = outbox_for(database, client, clock, "first")
    second = outbox_for(database, client, clock, "second")
    await put(database, clock, "lane")
    [claimed] = await first.claim(10)
    assert await second.run_once() == 0
    assert [row.leased_by for row in await outbox_rows(database)] == ["first"]
    clock.advance(seconds=31)  # the first process died, say: its lease runs out
    [taken] = await second.claim(10)
    assert taken.id == claimed.id
    assert await first.post(claimed) is False  # its failure is not written: the row is no longer its own
    [row] = await outbox_rows(database)
    assert (row.leased_by, row.attempts, row.last_error) == ("second", 0, None)
    assert await second.post(taken) is True
    assert await outbox_rows(database) == []


async def test_two_outboxes_never_post_the_same_row(
    database: Database, http: tuple[httpx.AsyncClient, WebhookRecorder]
) -> None:
    client, recorder = http
    clock = FakeClock()
    outboxes = [outbox_for(database, client, clock, f"w{i}") for i in range(3)]
    await put(database, clock, *(f"lane-{i % 20}" for i in range(60)))
    while await outboxes[0].waiting():
        await asyncio.gather(*(outbox.run_once() for outbox in outboxes))
    counts = Counter(post.body for post in recorder.posts)
    assert len(counts) == 60 and set(counts.values()) == {1}
    for lane in range(20):
        numbers = [post.payload["n"] for post in recorder.posts if post.payload["lane"] == f"lane-{lane}"]
        assert numbers == sorted(numbers)


async def test_a_stopped_sandbox_leaves_its_webhooks_for_the_next_start(
    settings: Settings, database: Database
) -> None:
    hold = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await hold.wait()
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as client:
        app = create_sandbox_app(settings, database, http_client=client)
        runtime = app.state.sandbox
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as sbx:
            async with database.transaction() as session:
                number = await provision_number(session)
            body = {
                "phone_number_id": number.phone_number_id,
                "from": CUSTOMER,
                "message": {"type": "text", "text": {"body": "Halo"}},
            }
            assert (await sbx.post("/v1/inbound", json=body)).status_code == 200
            for _ in range(500):  # until the post is under way
                if [row.leased_by for row in await outbox_rows(database)] == [runtime.outbox.worker_id]:
                    break
                await asyncio.sleep(0.01)
        await asyncio.wait_for(runtime.aclose(), timeout=5)
        [row] = await outbox_rows(database)
        assert row.leased_by is None and row.lease_expires_at is None  # given back, not left to expire

    async with running_sandbox(settings, database) as sandbox:
        await sandbox.runtime.idle()
        assert [m["text"]["body"] for m in sandbox.recorder.messages()] == ["Halo"]
