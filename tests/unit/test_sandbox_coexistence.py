"""Coexistence: the owner's phone app seen through Meta's three extra webhook fields.

``/v1/echo`` posts ``smb_message_echoes``, ``/v1/history`` posts ``history`` chunks and
``/v1/contacts`` posts ``smb_app_state_sync``, signed and shaped as Meta posts them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.customers import derived_user_id
from kirem.sandbox.models import SandboxMessage
from kirem.sandbox.provisioning import ProvisionedNumber
from tests.unit.sandbox_support import FakeClock, SandboxHarness, bearer, mutations, running_sandbox

CUSTOMER = "62812345678"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(settings: Settings, database: Database, clock: FakeClock) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database, clock=clock) as harness:
        yield harness


def meta_metadata(number: ProvisionedNumber) -> dict[str, str]:
    return {"display_phone_number": number.display_phone_number, "phone_number_id": number.phone_number_id}


def whole(number: ProvisionedNumber, field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": number.waba_id, "changes": [{"value": value, "field": field}]}],
    }


async def echo(
    sandbox: SandboxHarness, number: ProvisionedNumber, message: dict[str, Any], to: str = CUSTOMER
) -> httpx.Response:
    body = {"phone_number_id": number.phone_number_id, "to": to, "message": message}
    return await sandbox.client.post("/v1/echo", json=body)


async def history(sandbox: SandboxHarness, number: ProvisionedNumber, **chunk: Any) -> httpx.Response:
    return await sandbox.client.post("/v1/history", json={"phone_number_id": number.phone_number_id, **chunk})


def epoch(clock: FakeClock, **delta: float) -> str:
    return str(int((clock.current + timedelta(**delta)).timestamp()))


# --- smb_message_echoes -------------------------------------------------------------------------------


async def test_echo_arrives_as_smb_message_echoes(sandbox: SandboxHarness, clock: FakeClock) -> None:
    number = await sandbox.provision()
    response = await echo(
        sandbox, number, {"type": "text", "text": {"body": "Sudah kami kirim ya"}}, "+62 812-345-678"
    )
    assert response.status_code == 200, response.text
    wamid = response.json()["wamid"]
    assert response.json() == {"wamid": wamid} and wamid.startswith("wamid.")
    await sandbox.runtime.idle()

    [post] = sandbox.recorder.posts
    assert post.signature_valid
    assert post.payload == whole(
        number,
        "smb_message_echoes",
        {
            "messaging_product": "whatsapp",
            "metadata": meta_metadata(number),
            "message_echoes": [
                {
                    "from": number.display_phone_number,
                    "to": CUSTOMER,
                    "to_user_id": derived_user_id(number.waba_id, wa_id=CUSTOMER),
                    "id": wamid,
                    "timestamp": epoch(clock),
                    "type": "text",
                    "text": {"body": "Sudah kami kirim ya"},
                }
            ],
        },
    )
    async with sandbox.database.session() as session:
        recorded = await session.get(SandboxMessage, wamid)
    assert recorded is not None
    assert (recorded.direction, recorded.wa_id, recorded.type) == ("out", CUSTOMER, "text")


async def test_an_echo_opens_no_service_window(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    assert (
        await echo(sandbox, number, {"type": "text", "text": {"body": "Halo dari HP"}})
    ).status_code == 200
    reply = await sandbox.send(
        number, {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "API"}}
    )
    await sandbox.runtime.idle()
    [status] = sandbox.recorder.statuses(reply.json()["messages"][0]["id"])
    assert status["status"] == "failed" and status["errors"][0]["code"] == 131047


async def test_echo_media_and_other_types(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    image = await echo(sandbox, number, {"type": "image", "image": {"caption": "Katalog"}})
    location = await echo(
        sandbox, number, {"type": "location", "location": {"latitude": -6.2, "longitude": 106.8}}
    )
    reaction = await echo(
        sandbox, number, {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "🙏"}}
    )
    assert [r.status_code for r in (image, location, reaction)] == [200, 200, 200]
    await sandbox.runtime.idle()
    echoes = [post.value["message_echoes"][0] for post in sandbox.recorder.posts]
    assert [e["type"] for e in echoes] == ["image", "location", "reaction"]
    media = echoes[0]["image"]
    assert media["caption"] == "Katalog" and media["mime_type"] == "image/png"
    info = await sandbox.client.get(f"/v23.0/{media['id']}", headers=bearer(number.access_token))
    assert info.status_code == 200  # the sample is real media of this number
    assert echoes[1]["location"] == {"latitude": -6.2, "longitude": 106.8}
    assert echoes[2]["reaction"] == {"message_id": "wamid.X", "emoji": "🙏"}


async def test_echoes_and_customer_messages_keep_their_order(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    for index in range(3):
        await sandbox.inbound(number, {"type": "text", "text": {"body": f"in{index}"}})
        await echo(sandbox, number, {"type": "text", "text": {"body": f"out{index}"}})
    await sandbox.runtime.idle()
    bodies = [
        (post.value.get("messages") or post.value.get("message_echoes"))[0]["text"]["body"]
        for post in sandbox.recorder.posts
    ]
    assert bodies == ["in0", "out0", "in1", "out1", "in2", "out2"]


# --- history ------------------------------------------------------------------------------------------


async def test_history_chunk_in_metas_format(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    threads = [
        {
            "id": CUSTOMER,
            "messages": [
                {"from": "customer", "id": "wamid.h1", "timestamp": 1748700000, "text": "Ada stok?"},
                {
                    "from": "business",
                    "id": "wamid.h2",
                    "timestamp": "1748700060",
                    "text": "Ada kak",
                    "status": "delivered",
                },
            ],
        },
        {
            "id": "6281111111",
            "messages": [
                {
                    "from": number.display_phone_number,
                    "id": "wamid.h3",
                    "timestamp": 1748600000,
                    "type": "location",
                    "location": {"latitude": 1.5, "longitude": 2.5},
                    "history_context": {"status": "READ"},
                },
                {
                    "from": "6281111111",
                    "id": "wamid.h4",
                    "timestamp": 1748600100,
                    "type": "audio",
                    "audio": {"voice": True},
                    "history_context": {"status": "PLAYED"},
                },
            ],
        },
    ]
    response = await history(sandbox, number, phase=1, chunk_order=3, progress=40, threads=threads)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "chunk_order": 3,
        "messages": 4,
        "wamids": ["wamid.h1", "wamid.h2", "wamid.h3", "wamid.h4"],
    }
    await sandbox.runtime.idle()

    [post] = sandbox.recorder.posts
    assert post.signature_valid
    audio = post.value["history"][0]["threads"][1]["messages"][1]["audio"]
    assert audio["voice"] is True and audio["mime_type"] == "audio/ogg"
    assert post.payload == whole(
        number,
        "history",
        {
            "messaging_product": "whatsapp",
            "metadata": meta_metadata(number),
            "history": [
                {
                    "metadata": {"phase": 1, "chunk_order": 3, "progress": 40},
                    "threads": [
                        {
                            "id": CUSTOMER,
                            "messages": [
                                {
                                    "from": CUSTOMER,
                                    "from_user_id": derived_user_id(number.waba_id, wa_id=CUSTOMER),
                                    "id": "wamid.h1",
                                    "timestamp": "1748700000",
                                    "type": "text",
                                    "text": {"body": "Ada stok?"},
                                    "history_context": {"status": "READ"},
                                },
                                {
                                    "from": number.display_phone_number,
                                    "to": CUSTOMER,
                                    "to_user_id": derived_user_id(number.waba_id, wa_id=CUSTOMER),
                                    "id": "wamid.h2",
                                    "timestamp": "1748700060",
                                    "type": "text",
                                    "text": {"body": "Ada kak"},
                                    "history_context": {"status": "DELIVERED"},
                                },
                            ],
                        },
                        {
                            "id": "6281111111",
                            "messages": [
                                {
                                    "from": number.display_phone_number,
                                    "to": "6281111111",
                                    "to_user_id": derived_user_id(number.waba_id, wa_id="6281111111"),
                                    "id": "wamid.h3",
                                    "timestamp": "1748600000",
                                    "type": "location",
                                    "location": {"latitude": 1.5, "longitude": 2.5},
                                    "history_context": {"status": "READ"},
                                },
                                {
                                    "from": "6281111111",
                                    "from_user_id": derived_user_id(number.waba_id, wa_id="6281111111"),
                                    "id": "wamid.h4",
                                    "timestamp": "1748600100",
                                    "type": "audio",
                                    "audio": audio,
                                    "history_context": {"status": "PLAYED"},
                                },
                            ],
                        },
                    ],
                }
            ],
        },
    )


async def test_history_fills_ids_and_timestamps_from_the_onboarding(
    sandbox: SandboxHarness, clock: FakeClock
) -> None:
    number = await sandbox.provision()  # onboarded at the clock's current time
    onboarded = clock.current
    clock.advance(days=3)
    threads = [{"id": CUSTOMER, "messages": [{"text": "Permisi"}, {"from": "business", "text": "Iya kak"}]}]
    response = await history(sandbox, number, phase=2, threads=threads)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["chunk_order"] == 1 and answer["messages"] == 2
    await sandbox.runtime.idle()
    [post] = sandbox.recorder.posts
    chunk = post.value["history"][0]
    assert chunk["metadata"] == {"phase": 2, "chunk_order": 1, "progress": 100}
    first, second = chunk["threads"][0]["messages"]
    assert [first["id"], second["id"]] == answer["wamids"]
    assert all(wamid.startswith("wamid.") for wamid in answer["wamids"])
    assert (first["from"], "to" in first) == (CUSTOMER, False)
    assert (second["from"], second["to"]) == (number.display_phone_number, CUSTOMER)
    start = onboarded - timedelta(days=90, hours=1)
    assert first["timestamp"] == str(int(start.timestamp()))
    assert second["timestamp"] == str(int((start + timedelta(minutes=1)).timestamp()))
    assert first["history_context"] == second["history_context"] == {"status": "READ"}


async def test_reposting_a_chunk_with_its_ids_posts_the_same_webhook(
    sandbox: SandboxHarness, clock: FakeClock
) -> None:
    number = await sandbox.provision()
    chunk = {
        "phase": 0,
        "chunk_order": 2,
        "progress": 60,
        "threads": [
            {
                "id": CUSTOMER,
                "messages": [
                    {"id": "wamid.r1", "text": "Foto barangnya?"},
                    {"id": "wamid.r2", "from": "business", "type": "image", "image": {"caption": "Ini"}},
                    {"id": "wamid.r3", "from": "business", "type": "document", "document": {}},
                ],
            }
        ],
    }
    first = await history(sandbox, number, **chunk)
    clock.advance(hours=5)
    again = await history(sandbox, number, **chunk)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    assert first.json()["wamids"] == ["wamid.r1", "wamid.r2", "wamid.r3"]
    await sandbox.runtime.idle()
    one, two = sandbox.recorder.posts
    assert one.signature_valid and two.signature_valid
    assert one.body == two.body
    assert one.headers["x-hub-signature-256"] == two.headers["x-hub-signature-256"]


async def test_history_messages_can_be_marked_read(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    threads = [{"id": CUSTOMER, "messages": [{"id": "wamid.old", "text": "Halo"}]}]
    assert (await history(sandbox, number, threads=threads)).status_code == 200
    assert (await history(sandbox, number, threads=threads)).status_code == 200  # known ids are fine
    receipt = await sandbox.send(
        number, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.old"}
    )
    assert receipt.status_code == 200 and receipt.json() == {"success": True}


async def test_simultaneous_reposts_all_succeed(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    threads = [{"id": CUSTOMER, "messages": [{"id": f"wamid.c{i}", "text": "x"} for i in range(20)]}]
    answers = await asyncio.gather(*(history(sandbox, number, threads=threads) for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    await sandbox.runtime.idle()
    assert len({post.body for post in sandbox.recorder.posts}) == 1


# --- smb_app_state_sync -------------------------------------------------------------------------------


async def test_contacts_arrive_as_smb_app_state_sync(sandbox: SandboxHarness, clock: FakeClock) -> None:
    number = await sandbox.provision()
    body = {
        "phone_number_id": number.phone_number_id,
        "contacts": [
            {"phone_number": "+62 812 345 678", "full_name": "Budi Santoso"},
            {"phone_number": "6281111111", "full_name": "Ani W", "first_name": "Ani", "action": "add"},
            {"phone_number": "6282222222", "full_name": "Dropped", "action": "remove"},
        ],
    }
    response = await sandbox.client.post("/v1/contacts", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"contacts": 3}
    await sandbox.runtime.idle()
    [post] = sandbox.recorder.posts
    assert post.signature_valid
    stamp = {"timestamp": epoch(clock)}

    def user_id(phone: str) -> str:
        return derived_user_id(number.waba_id, wa_id=phone)

    assert post.payload == whole(
        number,
        "smb_app_state_sync",
        {
            "messaging_product": "whatsapp",
            "metadata": meta_metadata(number),
            "state_sync": [
                {
                    "type": "contact",
                    "contact": {
                        "full_name": "Budi Santoso",
                        "first_name": "Budi",
                        "phone_number": CUSTOMER,
                        "user_id": user_id(CUSTOMER),
                    },
                    "action": "add",
                    "metadata": stamp,
                },
                {
                    "type": "contact",
                    "contact": {
                        "full_name": "Ani W",
                        "first_name": "Ani",
                        "phone_number": "6281111111",
                        "user_id": user_id("6281111111"),
                    },
                    "action": "add",
                    "metadata": stamp,
                },
                {
                    "type": "contact",
                    "contact": {"phone_number": "6282222222", "user_id": user_id("6282222222")},
                    "action": "remove",
                    "metadata": stamp,
                },
            ],
        },
    )


# --- errors -------------------------------------------------------------------------------------------

TEXT = {"type": "text", "text": {"body": "x"}}
THREAD = {"id": CUSTOMER, "messages": [{"text": "x"}]}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("echo", {"to": CUSTOMER, "message": TEXT}, "phone_number_id"),
        ("echo", {"message": TEXT}, "to"),
        ("echo", {"to": "12", "message": TEXT}, "to"),
        ("echo", {"to": CUSTOMER}, "message"),
        ("echo", {"to": CUSTOMER, "message": {"type": "template"}}, "message.type"),
        ("echo", {"to": CUSTOMER, "message": {"type": "interactive"}}, "message.type"),
        ("echo", {"to": CUSTOMER, "message": {"type": "text", "text": {}}}, "message.text.body"),
        ("echo", {"to": CUSTOMER, "message": {"type": "image", "image": {"id": "404"}}}, "message.image.id"),
        ("history", {"threads": [THREAD], "phase": 3}, "phase"),
        ("history", {"threads": [THREAD], "chunk_order": 0}, "chunk_order"),
        ("history", {"threads": [THREAD], "progress": "50"}, "progress"),
        ("history", {"threads": []}, "threads"),
        ("history", {"threads": [{"messages": [{"text": "x"}]}]}, "threads[0].id"),
        ("history", {"threads": [{"id": CUSTOMER, "messages": []}]}, "threads[0].messages"),
        ("history", {"threads": [{"id": CUSTOMER, "messages": [{}]}]}, "threads[0].messages[0].text"),
        (
            "history",
            {"threads": [{"id": CUSTOMER, "messages": [{"text": "x", "from": "6289999999"}]}]},
            "threads[0].messages[0].from",
        ),
        (
            "history",
            {"threads": [{"id": CUSTOMER, "messages": [{"text": "x", "id": "abc"}]}]},
            "threads[0].messages[0].id",
        ),
        (
            "history",
            {"threads": [{"id": CUSTOMER, "messages": [{"text": "x", "id": "wamid.a"}] * 2}]},
            "threads[0].messages[1].id",
        ),
        (
            "history",
            {"threads": [{"id": CUSTOMER, "messages": [{"text": "x", "timestamp": "yesterday"}]}]},
            "threads[0].messages[0].timestamp",
        ),
        (
            "history",
            {"threads": [{"id": CUSTOMER, "messages": [{"text": "x", "status": "SEEN"}]}]},
            "threads[0].messages[0].status",
        ),
        (
            "history",
            {"threads": [{"id": CUSTOMER, "messages": [{"type": "text", "text": {"body": 5}}]}]},
            "threads[0].messages[0].text.body",
        ),
        (
            "history",
            {"threads": [THREAD, {"id": CUSTOMER, "messages": [{"type": "location", "location": {}}]}]},
            "threads[1].messages[0].location.latitude",
        ),
        ("contacts", {}, "contacts"),
        ("contacts", {"contacts": [{"full_name": "A"}]}, "contacts[0].phone_number"),
        ("contacts", {"contacts": [{"phone_number": CUSTOMER}]}, "contacts[0].full_name"),
        ("contacts", {"contacts": [{"phone_number": CUSTOMER, "action": "edit"}]}, "contacts[0].action"),
    ],
)
async def test_bad_bodies_name_the_field(
    sandbox: SandboxHarness, path: str, body: dict[str, Any], field: str
) -> None:
    number = await sandbox.provision()
    if field != "phone_number_id":
        body = {"phone_number_id": number.phone_number_id, **body}
    response = await sandbox.client.post(f"/v1/{path}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100 and error["message"] == "(#100) Invalid parameter"
    assert error["error_data"]["details"].startswith(field + ":"), error
    await sandbox.runtime.idle()
    assert sandbox.recorder.posts == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("echo", {"to": CUSTOMER, "message": TEXT}),
        ("history", {"threads": [THREAD]}),
        ("contacts", {"contacts": [{"phone_number": CUSTOMER, "full_name": "Budi"}]}),
    ],
)
async def test_unknown_number_is_404_in_metas_body(
    sandbox: SandboxHarness, path: str, body: dict[str, Any]
) -> None:
    response = await sandbox.client.post(f"/v1/{path}", json={"phone_number_id": "100000000000000", **body})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == 100 and error["error_data"]["details"].startswith("phone_number_id:")
    broken = await sandbox.client.post(
        f"/v1/{path}", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == 100


async def test_mutated_bodies_never_get_a_500(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    pnid = number.phone_number_id
    originals = [
        (
            "echo",
            {
                "phone_number_id": pnid,
                "to": CUSTOMER,
                "message": {"type": "image", "image": {"caption": "c"}},
            },
        ),
        (
            "history",
            {
                "phone_number_id": pnid,
                "phase": 1,
                "threads": [
                    {
                        "id": CUSTOMER,
                        "messages": [
                            {
                                "from": "business",
                                "id": "wamid.m",
                                "timestamp": 5,
                                "text": "x",
                                "status": "READ",
                            },
                            {"type": "document", "document": {"filename": "a.pdf"}, "history_context": {}},
                        ],
                    }
                ],
            },
        ),
        (
            "contacts",
            {
                "phone_number_id": pnid,
                "contacts": [{"phone_number": CUSTOMER, "full_name": "A B", "action": "add"}],
            },
        ),
    ]
    for path, original in originals:
        for body in mutations(original):
            response = await sandbox.client.post(f"/v1/{path}", json=body)
            assert response.status_code in (200, 400, 404), (path, body, response.text)
            if response.status_code != 200:
                assert response.json()["error"]["code"] == 100
    await sandbox.runtime.idle()
    assert sandbox.recorder.posts and all(post.signature_valid for post in sandbox.recorder.posts)


# --- CLI ----------------------------------------------------------------------------------------------


class Captured:
    def __init__(self, status_code: int = 200) -> None:
        self.status_code = status_code
        self.body: dict[str, Any] = {"ok": True}
        self.calls: list[tuple[str, Any]] = []

    def __call__(
        self, url: str, *, json: Any, timeout: float, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        self.calls.append((url, json))
        return httpx.Response(self.status_code, json=self.body)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    capture = Captured()
    monkeypatch.setattr(httpx, "post", capture)
    return capture


def invoke(*args: str, code: int = 0) -> Any:
    from kirem.cli import app

    result = CliRunner().invoke(app, ["sandbox", *args, "--url", "http://kirem.test/"])
    assert result.exit_code == code, result.output
    return result


def test_cli_echo(captured: Captured) -> None:
    invoke("echo", "--phone-number-id", "1", "--to", CUSTOMER, "--text", "Halo")
    image = '{"type": "image", "image": {"caption": "c"}}'
    invoke("echo", "--phone-number-id", "1", "--message", image)
    assert captured.calls == [
        (
            "http://kirem.test/sandbox/v1/echo",
            {"phone_number_id": "1", "to": CUSTOMER, "message": {"type": "text", "text": {"body": "Halo"}}},
        ),
        (
            "http://kirem.test/sandbox/v1/echo",
            {"phone_number_id": "1", "to": CUSTOMER, "message": {"type": "image", "image": {"caption": "c"}}},
        ),
    ]
    invoke("echo", "--phone-number-id", "1", code=2)
    invoke("echo", "--phone-number-id", "1", "--message", "{", code=2)
    assert len(captured.calls) == 2


def test_cli_history(captured: Captured, tmp_path: Path) -> None:
    chunk = {"phase": 1, "chunk_order": 2, "threads": [THREAD]}
    path = tmp_path / "chunk.json"
    path.write_text(json.dumps(chunk))
    invoke("history", "--phone-number-id", "1", "--file", str(path))
    invoke("history", "--phone-number-id", "1", "--json", json.dumps([THREAD]))
    assert captured.calls == [
        ("http://kirem.test/sandbox/v1/history", {**chunk, "phone_number_id": "1"}),
        ("http://kirem.test/sandbox/v1/history", {"threads": [THREAD], "phone_number_id": "1"}),
    ]
    invoke("history", "--phone-number-id", "1", "--file", str(tmp_path / "missing.json"), code=2)
    invoke("history", "--phone-number-id", "1", "--json", "5", code=2)
    invoke("history", "--phone-number-id", "1", code=2)


def test_cli_contacts(captured: Captured) -> None:
    invoke(
        "contacts", "--phone-number-id", "1",
        "--add", "62812345678:Budi Santoso", "--add", "6281111111: Ani", "--remove", "6282222222",
    )  # fmt: skip
    assert captured.calls == [
        (
            "http://kirem.test/sandbox/v1/contacts",
            {
                "phone_number_id": "1",
                "contacts": [
                    {"phone_number": CUSTOMER, "full_name": "Budi Santoso", "action": "add"},
                    {"phone_number": "6281111111", "full_name": "Ani", "action": "add"},
                    {"phone_number": "6282222222", "action": "remove"},
                ],
            },
        )
    ]
    invoke("contacts", "--phone-number-id", "1", "--add", "62812345678", code=2)
    invoke("contacts", "--phone-number-id", "1", code=2)


def test_cli_reports_an_error_answer(captured: Captured) -> None:
    captured.status_code = 404
    captured.body = {"error": {"message": "phone_number_id: no sandbox phone number '1'", "code": 100}}
    result = invoke("echo", "--phone-number-id", "1", "--text", "x", code=1)
    assert result.stdout == ""
    assert result.stderr == "error: phone_number_id: no sandbox phone number '1' (404)\n"
    captured.status_code, captured.body = 200, {"ok": True}
    assert json.loads(invoke("echo", "--phone-number-id", "1", "--text", "x").stdout) == {"ok": True}
    bad = invoke("echo", "--phone-number-id", "1", "--message", "{", code=2)
    assert bad.stdout == "" and bad.stderr.startswith("error: --message is not valid JSON")
