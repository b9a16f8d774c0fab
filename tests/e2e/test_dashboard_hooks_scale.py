"""The log pages with 10,000 message logs and 10,000 deliveries: every page and export renders.

Only that they render completely is asserted here; how fast they do is measured in bench/.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator

import httpx
import pytest
from bench.dashboard import conversation_id, seed

from tests.e2e.conftest import Server, auth
from tests.e2e.dashboard import PASSWORD, create_owner, http_login, unique_email

ROWS = 10_000
CONVERSATIONS = 1_000


@pytest.fixture(scope="module")
def seeded(server: Server) -> Iterator[tuple[httpx.Client, str]]:
    owner = create_owner(server, unique_email("scale"), PASSWORD)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        target = client.post(
            "/v1/webhooks/targets",
            json={"url": "http://127.0.0.1:9/never", "enabled": False},
            headers=auth(owner["api_key"]),
        )
        assert target.status_code == 201, target.text
        target_data = target.json()["data"]
        asyncio.run(
            seed(
                server.env["KIREM_DATABASE_URL"],
                owner,
                target_data["id"],
                target_data["url"],
                ROWS,
                CONVERSATIONS,
            )
        )
        http_login(client, owner["email"], PASSWORD)
        yield client, f"/dashboard/p/{owner['project_id']}"


def _total(html: str, element: str) -> int:
    found = re.search(rf'id="{element}">(\d+)', html)
    assert found, element
    return int(found.group(1))


def test_every_log_page_renders_with_ten_thousand_rows(seeded: tuple[httpx.Client, str]) -> None:
    client, base = seeded
    logs = client.get(f"{base}/logs")
    assert logs.status_code == 200 and _total(logs.text, "logs-total") == ROWS
    assert logs.text.count("wamid.scale") == 50
    last = client.get(f"{base}/logs", params={"page": str(ROWS // 50)})
    assert last.status_code == 200 and "wamid.scale9999<" in last.text and 'rel="next"' not in last.text
    failed = client.get(f"{base}/logs", params={"status": "failed", "direction": "inbound"})
    assert _total(failed.text, "logs-total") == ROWS // 10

    exported = client.get(f"{base}/logs/export.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == ROWS and len({row["id"] for row in rows}) == ROWS
    assert rows[0]["id"] == "msg_scale00000000" and rows[-1]["id"] == f"msg_scale{ROWS - 1:08d}"

    deliveries = client.get(f"{base}/deliveries")
    assert deliveries.status_code == 200 and _total(deliveries.text, "deliveries-total") == ROWS
    page = client.get(f"{base}/deliveries", params={"status": "failed", "page": "20"})
    assert page.status_code == 200 and _total(page.text, "deliveries-total") == ROWS // 10
    detail = client.get(f"{base}/deliveries/dlv_scale00000010")
    assert detail.status_code == 200 and "Content-Type" in detail.text

    analytics = client.get(f"{base}/analytics", params={"days": "7"})
    assert analytics.status_code == 200
    assert _total(analytics.text, "total-sent") + _total(analytics.text, "total-received") == ROWS
    assert "90%" in analytics.text or "90.0%" in analytics.text

    confirm = client.get(f"{base}/deliveries/replay", params={"status": "failed"})
    assert confirm.status_code == 200
    assert re.search(r'id="replay-count"><strong>0 ', confirm.text), (
        "a disabled target's deliveries are not replayed"
    )


def test_the_inbox_renders_with_a_thousand_conversations(seeded: tuple[httpx.Client, str]) -> None:
    client, base = seeded
    inbox = client.get(f"{base}/inbox")
    assert inbox.status_code == 200 and f"{CONVERSATIONS} conversations" in inbox.text
    assert inbox.text.count("data-conversation-id=") == 25
    last = client.get(f"{base}/inbox", params={"page": str(CONVERSATIONS // 25)})
    assert last.text.count("data-conversation-id=") == 25 and 'rel="next"' not in last.text
    found = client.get(f"{base}/inbox", params={"q": "+62 813 0000007"})
    assert found.text.count("data-conversation-id=") == 1
    chat = client.get(f"{base}/inbox/{conversation_id(base.rsplit('/', 1)[1], 7)}")
    assert chat.status_code == 200
    assert chat.text.count('class="message ') == ROWS // CONVERSATIONS
