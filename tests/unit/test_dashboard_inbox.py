"""The dashboard's inbox through the real app: listing 1,000 conversations a page at a time, search
by number, username and BSUID, status changes, the CSRF check, and who may see the inbox."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from kirem.app import create_app
from kirem.config import Settings
from kirem.conversations.models import Conversation
from kirem.dashboard.users import create_user, set_role
from kirem.db.base import new_uuid, utcnow
from kirem.db.migrate import upgrade_async
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.models import Account, Project
from tests.racing import racing_sessions
from tests.unit.conversation_support import customer_writes

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROWS = re.compile(r"data-conversation-id=\"([^\"]+)\"")
BUBBLES = re.compile(r'<p class="bubble">([^<]*)</p>')
CUSTOMER = "62812345678"


@dataclass
class Inbox:
    http: httpx.AsyncClient
    app: Any
    boot: dict[str, Any]
    csrf: str = ""
    added: int = 0

    @property
    def url(self) -> str:
        return f"/dashboard/p/{self.boot['project_id']}/inbox"

    async def customer_writes(self, text: str, minutes_ago: float) -> str:
        """A customer message in the one conversation of ``CUSTOMER``, as the inbound processor logs it."""
        at = utcnow() - timedelta(minutes=minutes_ago)
        return await customer_writes(self.app.state.ctx.db, self.boot["channel_id"], CUSTOMER, text, at)

    async def add_conversations(self, count: int, **fields: Any) -> list[str]:
        now = utcnow()
        start, self.added = self.added, self.added + count
        rows = [
            {
                "id": new_uuid(),
                "project_id": self.boot["project_id"],
                "channel_id": self.boot["channel_id"],
                "customer_wa_id": fields.get("customer_wa_id", f"628{start + i:09d}"),
                "customer_user_id": fields.get("customer_user_id"),
                "customer_username": fields.get("customer_username"),
                "customer_name": fields.get("customer_name", f"Customer {i}"),
                "status": fields.get("status", "open"),
                "last_customer_message_at": now,
                "updated_at": now - timedelta(seconds=i),
                "created_at": now,
            }
            for i in range(count)
        ]
        async with self.app.state.ctx.db.transaction() as session:
            await session.execute(insert(Conversation), rows)
        return [row["id"] for row in rows]


async def _user(app: Any, boot: dict[str, Any], email: str, role: str | None) -> None:
    async with app.state.ctx.db.transaction() as session:
        account = await session.get(Account, boot["account_id"])
        project = await session.get(Project, boot["project_id"])
        assert account is not None and project is not None
        user = await create_user(session, account, email, PASSWORD, account_owner=role is None)
        if role is not None:
            await set_role(session, user, project, role)


async def _sign_in(http: httpx.AsyncClient, email: str) -> str:
    form = await http.get("/dashboard/login")
    token = CSRF.search(form.text)
    assert token, form.text
    answer = await http.post(
        "/dashboard/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text
    page = await http.get("/dashboard/?list=1")
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


@pytest.fixture
async def inbox(settings: Settings) -> AsyncIterator[Inbox]:
    await upgrade_async(settings)
    app = create_app(settings)
    boot = await bootstrap(app.state.ctx, "toko", "main", "growth")
    await _user(app, boot, "owner@toko.example", None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kirem") as http:
        found = Inbox(http, app, boot)
        found.csrf = await _sign_in(http, "owner@toko.example")
        yield found
    await app.state.ctx.aclose()


async def test_a_thousand_conversations_are_listed_a_page_at_a_time(inbox: Inbox) -> None:
    ids = await inbox.add_conversations(1000)
    first = await inbox.http.get(inbox.url)
    assert first.status_code == 200
    assert "1000" in first.text
    assert ROWS.findall(first.text) == ids[:25]  # most recently active first
    last = await inbox.http.get(inbox.url, params={"page": 40})
    assert ROWS.findall(last.text) == ids[975:]
    assert 'rel="next"' not in last.text and 'rel="prev"' in last.text
    assert ROWS.findall((await inbox.http.get(inbox.url, params={"page": 41})).text) == []


async def test_search_by_number_username_and_bsuid(inbox: Inbox) -> None:
    await inbox.add_conversations(3)
    [by_name] = await inbox.add_conversations(
        1, customer_wa_id=None, customer_user_id="ID.1234567890123456", customer_username="budi.toko"
    )
    [by_number] = await inbox.add_conversations(1, customer_wa_id="6281299990000")
    for query, expected in (
        ("@budi.toko", [by_name]),
        ("BUDI.TOKO", [by_name]),
        ("ID.1234567890123456", [by_name]),
        ("+62 812-9999-0000", [by_number]),
        ("@nobody", []),
    ):
        page = await inbox.http.get(inbox.url, params={"q": query})
        assert page.status_code == 200, query
        assert ROWS.findall(page.text) == expected, query


async def test_status_filter_and_change(inbox: Inbox) -> None:
    [chat] = await inbox.add_conversations(1)
    await inbox.add_conversations(2, status="resolved")
    pending = await inbox.http.get(inbox.url, params={"status": "pending"})
    assert ROWS.findall(pending.text) == []
    changed = await inbox.http.post(
        f"{inbox.url}/{chat}/status", data={"status": "pending", "csrf_token": inbox.csrf}
    )
    assert changed.status_code == 303
    assert ROWS.findall((await inbox.http.get(inbox.url, params={"status": "pending"})).text) == [chat]
    refused = await inbox.http.post(
        f"{inbox.url}/{chat}/status", data={"status": "archived", "csrf_token": inbox.csrf}
    )
    assert refused.status_code == 400
    assert "must be one of" in refused.text
    async with inbox.app.state.ctx.db.session() as session:
        assert await session.scalar(select(Conversation.status).where(Conversation.id == chat)) == "pending"


async def test_forms_without_the_csrf_token_change_nothing(inbox: Inbox) -> None:
    [chat] = await inbox.add_conversations(1)
    forged = await inbox.http.post(f"{inbox.url}/{chat}/status", data={"status": "resolved"})
    assert forged.status_code == 403
    reply = await inbox.http.post(f"{inbox.url}/{chat}/reply", data={"kind": "text", "text": "hi"})
    assert reply.status_code == 403
    async with inbox.app.state.ctx.db.session() as session:
        assert await session.scalar(select(Conversation.status).where(Conversation.id == chat)) == "open"


async def test_an_empty_reply_is_refused_beside_the_field(inbox: Inbox) -> None:
    [chat] = await inbox.add_conversations(1)
    answer = await inbox.http.post(
        f"{inbox.url}/{chat}/reply", data={"kind": "text", "text": "  ", "csrf_token": inbox.csrf}
    )
    assert answer.status_code == 400
    assert 'id="err-text"' in answer.text and "is required" in answer.text


async def test_an_agent_sees_the_inbox_and_nothing_else(inbox: Inbox) -> None:
    await _user(inbox.app, inbox.boot, "agent@toko.example", "agent")
    [chat] = await inbox.add_conversations(1)
    transport = httpx.ASGITransport(app=inbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kirem") as agent:
        await _sign_in(agent, "agent@toko.example")
        assert (await agent.get(inbox.url)).status_code == 200
        page = await agent.get(f"{inbox.url}/{chat}")
        assert page.status_code == 200 and 'id="reply-form"' in page.text
        assert "/keys" not in page.text and "/webhooks" not in page.text
        for area in ("keys", "webhooks", "channels", "settings", "overview"):
            assert (await agent.get(f"/dashboard/p/{inbox.boot['project_id']}/{area}")).status_code == 404


async def test_unknown_and_foreign_conversations_are_not_found(inbox: Inbox) -> None:
    other = await bootstrap(inbox.app.state.ctx, "other", "main", "growth")
    foreign = Inbox(inbox.http, inbox.app, other)
    [theirs] = await foreign.add_conversations(1)
    for conversation_id in (theirs, "not-a-uuid", new_uuid()):
        page = await inbox.http.get(f"{inbox.url}/{conversation_id}")
        assert page.status_code == 404
        assert theirs not in ROWS.findall(page.text)
    assert (await inbox.http.get(f"/dashboard/p/{other['project_id']}/inbox")).status_code == 404


async def test_one_conversation_pages_back_from_its_newest_messages(inbox: Inbox) -> None:
    for n in range(120):
        chat_id = await inbox.customer_writes(f"pesan {n}", minutes_ago=1000 - n)
    url = f"{inbox.url}/{chat_id}"
    newest = await inbox.http.get(url)
    assert BUBBLES.findall(newest.text) == [f"pesan {n}" for n in range(70, 120)]
    assert f"{url}?older=2" in newest.text and "?older=0" not in newest.text
    back = await inbox.http.get(url, params={"older": 2})
    assert BUBBLES.findall(back.text) == [f"pesan {n}" for n in range(20, 70)]
    assert f"{url}?older=3" in back.text and f"{url}?older=1" in back.text
    oldest = await inbox.http.get(url, params={"older": 3})
    assert BUBBLES.findall(oldest.text) == [f"pesan {n}" for n in range(50)]  # a full page, as before
    assert "?older=4" not in oldest.text and f"{url}?older=2" in oldest.text


async def test_one_conversation_shows_its_newest_messages_as_read(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the timeline was counted, then its newest page read at the offset the count gave;
    a message committed between the two was left off the newest page."""
    written: list[str] = []

    async def commit_one() -> None:
        written.append(await inbox.customer_writes(f"pesan {len(written)}", minutes_ago=1000 - len(written)))

    for _ in range(51):
        await commit_one()
    database = inbox.app.state.ctx.db
    monkeypatch.setattr(database, "session", racing_sessions(database, commit_one))
    page = await inbox.http.get(f"{inbox.url}/{written[0]}")
    assert page.status_code == 200
    seen = len(written) - 1  # the page's read is the request's last statement: one commit came after it
    assert BUBBLES.findall(page.text) == [f"pesan {n}" for n in range(seen - 50, seen)]
