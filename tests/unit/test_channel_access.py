"""The key's and the channel's rules sit in the one place that hands out a channel's Graph token."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from kirem.api.responses import ApiError
from kirem.app import create_app
from kirem.config import Settings
from kirem.db.migrate import upgrade_async
from kirem.messaging.models import MessageLog
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.models import Account, ApiKey, Channel, DailyUsage, Project
from kirem.tenancy.plans import limits_for
from kirem.tenancy.service import Tenant, check_channel_use

SOURCE = Path(__file__).resolve().parents[2] / "src" / "kirem"
GATE = SOURCE / "messaging" / "service.py"


def tenant(mode: str, project_id: str = "prj_1") -> Tenant:
    account = Account(id="acc_1", name="acme", plan="growth", limit_overrides={})
    project = Project(id=project_id, account_id="acc_1", name="main", webhook_secret_sealed="")
    key = ApiKey(id="key_1", project_id=project_id, mode=mode, key_hash="h", prefix="p")
    return Tenant(account=account, project=project, api_key=key, limits=limits_for("growth"))


def channel(kind: str, status: str = "active", project_id: str = "prj_1") -> Channel:
    return Channel(
        id="chan_1",
        project_id=project_id,
        kind=kind,
        phone_number_id="106540352242922",
        waba_id="102290129340398",
        access_token_sealed="",
        status=status,
    )


@pytest.mark.parametrize(
    ("mode", "kind", "status", "owner", "expected"),
    [
        ("live", "live", "active", "prj_1", None),
        ("live", "sandbox", "active", "prj_1", None),
        ("test", "sandbox", "active", "prj_1", None),
        ("test", "live", "active", "prj_1", 403),
        ("live", "live", "disabled", "prj_1", 409),
        ("test", "sandbox", "disabled", "prj_1", 409),
        ("live", "live", "active", "prj_other", 404),
    ],
)
def test_channel_use_rules(mode: str, kind: str, status: str, owner: str, expected: int | None) -> None:
    if expected is None:
        check_channel_use(tenant(mode), channel(kind, status, owner))
        return
    with pytest.raises(ApiError) as refused:
        check_channel_use(tenant(mode), channel(kind, status, owner))
    assert refused.value.status == expected


def test_only_the_gate_reaches_a_channels_token_or_graph_client() -> None:
    """Any other module taking a channel's token or client would skip the rules: none does."""
    reaching = re.compile(r"\bchannel_token\(|\.graph_for\(")
    offenders = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if path not in (GATE, SOURCE / "tenancy" / "service.py", SOURCE / "context.py")
        and reaching.search(path.read_text())
    ]
    assert offenders == []
    assert len(reaching.findall(GATE.read_text())) == 2  # inside graph_and_token only


async def test_a_send_refused_before_meta_counts_no_quota_and_leaves_no_log(settings: Settings) -> None:
    """The gate runs before the quota and the log: a channel Kirem cannot use costs nothing."""
    await upgrade_async(settings)
    app = create_app(settings)
    boot = await bootstrap(app.state.ctx, "acme", "main", "developer")
    await app.state.ctx.aclose()
    app = create_app(settings.model_copy(update={"sandbox": False}))
    body = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        answer = await client.post(
            "/v1/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
        )
    assert answer.status_code == 409 and "sandbox is disabled" in answer.json()["message"]
    async with app.state.ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MessageLog)) == 0
        assert (await session.execute(select(DailyUsage.outbound_messages))).scalars().all() in ([], [0])
    await app.state.ctx.aclose()
