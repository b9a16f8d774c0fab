"""A sandbox send's cached reads (token, template) and its batched window read answer as before."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.ids import hash_token
from kirem.sandbox.models import SandboxNumber, SandboxTemplate
from kirem.sandbox.provisioning import revoke_number
from tests.unit.sandbox_support import FakeClock, bearer, running_sandbox

CUSTOMER = "62812345678"
HELLO = {
    "messaging_product": "whatsapp",
    "to": CUSTOMER,
    "type": "template",
    "template": {"name": "hello_world", "language": {"code": "en_US"}},
}
TEXT = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "Halo"}}
NOTICE = {
    "name": "notice",
    "language": "id",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Pemberitahuan"}],
}


def send_of(name: str, language: str) -> dict[str, Any]:
    return {**HELLO, "template": {"name": name, "language": {"code": language}}}


class Ticks:
    """A monotonic clock for the caches that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_template_deleted_after_a_send_is_not_found_by_the_next(
    settings: Settings, database: Database
) -> None:
    quick = settings.model_copy(update={"sandbox_review_seconds": 0.0})
    async with running_sandbox(quick, database) as sandbox:
        number = await sandbox.provision()
        path = f"/v23.0/{number.waba_id}/message_templates"
        auth = bearer(number.access_token)
        assert (await sandbox.client.post(path, json=NOTICE, headers=auth)).status_code == 200
        await sandbox.runtime.idle()
        assert (await sandbox.send(number, send_of("notice", "id"))).status_code == 200
        deleted = await sandbox.client.delete(path, params={"name": "notice"}, headers=auth)
        assert deleted.status_code == 200
        response = await sandbox.send(number, send_of("notice", "id"))
        assert response.status_code == 404 and response.json()["error"]["code"] == 132001
        await sandbox.runtime.idle()


async def test_a_revoked_number_is_refused_right_after_a_send(settings: Settings, database: Database) -> None:
    async with running_sandbox(settings, database) as sandbox:
        number = await sandbox.provision()
        assert (await sandbox.send(number, HELLO)).status_code == 200
        async with database.transaction() as session:
            assert await revoke_number(session, number.phone_number_id)
        response = await sandbox.send(number, HELLO)
        assert response.status_code == 401 and response.json()["error"]["code"] == 190
        await sandbox.runtime.idle()


async def test_a_review_falling_due_is_finished_by_a_send_of_a_cached_template(
    settings: Settings, database: Database
) -> None:
    clock = FakeClock()
    slow = settings.model_copy(update={"sandbox_review_seconds": 60.0})
    async with running_sandbox(slow, database, clock=clock) as sandbox:
        number = await sandbox.provision()
        path = f"/v23.0/{number.waba_id}/message_templates"
        created = await sandbox.client.post(path, json=NOTICE, headers=bearer(number.access_token))
        assert (await sandbox.send(number, HELLO)).status_code == 200  # hello_world cached
        clock.advance(seconds=61)
        assert (await sandbox.send(number, HELLO)).status_code == 200
        async with database.session() as session:
            status = await session.scalar(
                select(SandboxTemplate.status).where(SandboxTemplate.id == created.json()["id"])
            )
        assert status == "APPROVED"
        await sandbox.runtime.idle()
        assert [u["event"] for u in sandbox.recorder.template_updates()] == ["APPROVED"]


async def test_a_token_changed_by_another_process_is_seen_once_the_entry_expires(
    settings: Settings, database: Database
) -> None:
    async with running_sandbox(settings, database) as sandbox:
        ticks = Ticks()
        numbers = sandbox.runtime.lookups.numbers
        numbers.clock = ticks
        number = await sandbox.provision()
        assert (await sandbox.send(number, HELLO)).status_code == 200
        async with database.engine.begin() as connection:  # no ORM session: as the CLI's process would
            await connection.execute(
                update(SandboxNumber)
                .where(SandboxNumber.phone_number_id == number.phone_number_id)
                .values(access_token_hash=hash_token("another-token"))
            )
        assert (await sandbox.send(number, HELLO)).status_code == 200  # the cached copy, still fresh
        ticks.now += numbers.ttl
        response = await sandbox.send(number, HELLO)
        assert response.status_code == 401 and response.json()["error"]["code"] == 190
        await sandbox.runtime.idle()


async def test_sends_in_and_out_of_the_window_in_one_batch(settings: Settings, database: Database) -> None:
    """Free-form sends written together: the one to a customer who wrote is sent, the other fails."""
    async with running_sandbox(settings, database) as sandbox:
        number = await sandbox.provision()
        assert (await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})).status_code == 200
        stranger = {**TEXT, "to": "62899999999"}
        answers = await asyncio.gather(sandbox.send(number, TEXT), sandbox.send(number, stranger))
        wamids = [answer.json()["messages"][0]["id"] for answer in answers]
        await sandbox.runtime.idle()
        assert [s["status"] for s in sandbox.recorder.statuses(wamids[0])] == ["sent", "delivered", "read"]
        [failed] = sandbox.recorder.statuses(wamids[1])
        assert failed["status"] == "failed" and failed["errors"][0]["code"] == 131047
