"""``kirem reseal``: every stored secret moves to the current key, and stays readable for its owner."""

from __future__ import annotations

import json

from sqlalchemy import select

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.crypto import Sealer, generate_key_spec, parse_keyring
from kirem.db.engine import Database
from kirem.delivery.secret import rotate_webhook_secret
from kirem.reseal import reseal_all
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import HEADERS_AAD
from kirem.tenancy import service
from kirem.tenancy.models import Channel, Project


async def test_reseal_moves_every_value_to_the_new_key(database: Database, settings: Settings) -> None:
    old_spec, new_spec = generate_key_spec("k1"), generate_key_spec("k2")
    old = context_for(settings.model_copy(update={"encryption_key": old_spec}))
    async with old.db.transaction() as session:
        account = await service.create_account(session, "rotating", "growth")
        project = await service.create_project(session, old.sealer, account, "main")
        await rotate_webhook_secret(session, old.sealer, project, project.created_at)
        await service.add_channel(
            session,
            old.sealer,
            project,
            kind="live",
            phone_number_id="1001",
            waba_id="2001",
            access_token="EAAG-token",
        )
        target = WebhookTarget(project_id=project.id, url="https://example.com/hook")
        session.add(target)
        await session.flush()
        target.headers_sealed = old.sealer.seal(
            json.dumps({"X-Api-Key": "s3cret"}), project.id, target.id, HEADERS_AAD
        )
        secret = service.webhook_secret(old.sealer, project)
    await old.aclose()

    both = context_for(settings.model_copy(update={"encryption_key": f"{new_spec},{old_spec}"}))
    try:
        counted = await reseal_all(both, dry_run=True)
        assert sum(counted.resealed.values()) == 4 and not counted.unreadable
        report = await reseal_all(both)
        assert {row["values"]: row["resealed"] for row in report.rows()} == {
            "project webhook secrets": 1,
            "previous project webhook secrets": 1,
            "channel access tokens": 1,
            "webhook target headers": 1,
            "idempotent responses": 0,
        }
        again = await reseal_all(both)
        assert sum(again.resealed.values()) == 0 and sum(again.current.values()) == 4
    finally:
        await both.aclose()

    new_only = Sealer(parse_keyring(new_spec))
    async with database.session() as session:
        project = (await session.execute(select(Project))).scalar_one()
        channel = (await session.execute(select(Channel))).scalar_one()
        target = (await session.execute(select(WebhookTarget))).scalar_one()
    assert service.webhook_secret(new_only, project) == secret
    assert service.channel_token(new_only, channel) == "EAAG-token"
    headers = new_only.open(target.headers_sealed or "", project.id, target.id, HEADERS_AAD)
    assert json.loads(headers) == {"X-Api-Key": "s3cret"}


async def test_values_no_key_opens_are_reported_not_lost(database: Database, settings: Settings) -> None:
    lost_spec = generate_key_spec("k0")
    lost = context_for(settings.model_copy(update={"encryption_key": lost_spec}))
    async with lost.db.transaction() as session:
        account = await service.create_account(session, "forgetful", "growth")
        project = await service.create_project(session, lost.sealer, account, "main")
        sealed = project.webhook_secret_sealed
    await lost.aclose()
    current = context_for(settings)
    try:
        report = await reseal_all(current)
    finally:
        await current.aclose()
    assert report.unreadable == [f"project webhook secrets {project.id}: no key with id 'k0' is configured"]
    async with database.session() as session:
        assert (await session.get(Project, project.id)).webhook_secret_sealed == sealed  # type: ignore[union-attr]
