"""Tenancy on a real database (SQLite, and PostgreSQL when configured)."""

import asyncio

import pytest
from sqlalchemy import event, insert, select, update

from kirem.api.responses import ApiError
from kirem.crypto import Sealer
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.db.scope import get_owned
from kirem.tenancy import service
from kirem.tenancy.cache import TTL_SECONDS
from kirem.tenancy.models import ApiKey, Channel, DailyUsage, Project
from kirem.tenancy.tokens import hash_secret


@pytest.fixture
def sealer(settings) -> Sealer:
    return Sealer.from_settings(settings)


async def _project(database: Database, sealer: Sealer, plan: str = "developer", name: str = "acme"):
    async with database.transaction() as session:
        account = await service.create_account(session, name, plan)
        project = await service.create_project(session, sealer, account, "main")
    return account, project


async def test_api_key_is_shown_once_stored_hashed_and_revocable(database: Database, sealer: Sealer) -> None:
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        key, secret = await service.mint_api_key(session, project, "live")
    assert secret.startswith("kirem_live_") and len(secret) == len("kirem_live_") + 32
    assert key.key_hash == hash_secret(secret)
    assert key.prefix == secret[: len("kirem_live_") + 4]
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        assert tenant is not None and tenant.project_id == project.id
        refreshed = await session.get(type(key), key.id)
        assert refreshed.last_used_at is not None
    async with database.transaction() as session:
        await service.revoke_api_key(session, project, key.id)
    async with database.session() as session:
        assert await service.tenant_for_key(session, secret) is None
        assert await service.tenant_for_key(session, "kirem_live_nope") is None


async def test_test_keys_are_minted_with_their_own_prefix(database: Database, sealer: Sealer) -> None:
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project, "test")
        with pytest.raises(ApiError) as err:
            await service.mint_api_key(session, project, "prod")
    assert secret.startswith("kirem_test_")
    assert err.value.status == 400


async def test_access_token_is_sealed_to_its_row(database: Database, sealer: Sealer) -> None:
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        channel = await service.add_channel(
            session,
            sealer,
            project,
            kind="live",
            phone_number_id="1001",
            waba_id="2002",
            access_token="EAAG-secret",
        )
    assert "EAAG-secret" not in channel.access_token_sealed
    assert service.channel_token(sealer, channel) == "EAAG-secret"


async def test_foreign_project_rows_are_not_found(database: Database, sealer: Sealer) -> None:
    _, mine = await _project(database, sealer, name="mine")
    _, theirs = await _project(database, sealer, name="theirs")
    async with database.transaction() as session:
        channel = await service.add_channel(
            session, sealer, theirs, kind="live", phone_number_id="3003", waba_id="4004", access_token="t"
        )
    async with database.session() as session:
        assert await get_owned(session, Channel, channel.id, mine.id) is None
        assert await get_owned(session, Channel, channel.id, theirs.id) is not None


async def test_developer_plan_allows_one_project_and_one_channel(database: Database, sealer: Sealer) -> None:
    account, project = await _project(database, sealer)
    async with database.transaction() as session:
        await service.add_channel(
            session, sealer, project, kind="live", phone_number_id="5", waba_id="6", access_token="t"
        )
    async with database.session() as session:
        with pytest.raises(ApiError) as err:
            await service.check_channel_quota(session, account)
        assert err.value.status == 403 and err.value.errors == {"plan": "growth"}
        with pytest.raises(ApiError) as err:
            await service.create_project(session, sealer, account, "second")
        assert err.value.status == 403 and "growth" in err.value.message


async def test_daily_quota_counts_accepted_messages_and_refunds(database: Database, sealer: Sealer) -> None:
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        for _ in range(20):
            await service.consume_outbound_quota(session, tenant)
            await session.commit()
        with pytest.raises(ApiError) as err:
            await service.consume_outbound_quota(session, tenant)
        assert err.value.status == 429 and err.value.errors == {"plan": "growth"}
        await session.rollback()
        await service.release_outbound_quota(session, tenant)
        await session.commit()
        await service.consume_outbound_quota(session, tenant)
        await session.commit()


async def test_parallel_sends_at_the_quota_edge_admit_exactly_the_quota(
    database: Database, sealer: Sealer
) -> None:
    _, project = await _project(database, sealer)  # developer: 20 outbound messages a day
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        for _ in range(5):
            await service.consume_outbound_quota(session, tenant)
        await session.commit()

    async def send() -> bool:
        async with database.session() as session:
            try:
                await service.consume_outbound_quota(session, tenant)
            except ApiError as exc:
                assert exc.status == 429
                return False
            await session.commit()
            return True

    admitted = await asyncio.gather(*(send() for _ in range(40)))
    assert admitted.count(True) == 15
    async with database.session() as session:
        used = await session.scalar(
            select(DailyUsage.outbound_messages).where(DailyUsage.account_id == tenant.account.id)
        )
        assert used == 20


async def test_revoked_key_is_refused_at_once_here_and_after_the_cache_ttl_elsewhere(
    database: Database, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        key, secret = await service.mint_api_key(session, project)
        other, other_secret = await service.mint_api_key(session, project)
    now = [1000.0]
    monkeypatch.setattr(service._tenants, "clock", lambda: now[0])
    async with database.session() as session:
        assert await service.tenant_for_key(session, secret) is not None
        assert await service.tenant_for_key(session, other_secret) is not None
    async with database.transaction() as session:  # revoked by this process: seen at once
        await service.revoke_api_key(session, project, key.id)
    async with database.session() as session:
        assert await service.tenant_for_key(session, secret) is None
        assert await service.tenant_for_key(session, other_secret) is not None
    async with database.engine.begin() as conn:  # revoked by another process: no commit event here
        await conn.execute(update(ApiKey).where(ApiKey.id == other.id).values(revoked_at=utcnow()))
    async with database.session() as session:
        assert await service.tenant_for_key(session, other_secret) is not None  # still cached
        now[0] += TTL_SECONDS
        assert await service.tenant_for_key(session, other_secret) is None


async def test_disconnected_channel_is_not_used_and_a_new_one_is_found_at_once(
    database: Database, sealer: Sealer
) -> None:
    _, project = await _project(database, sealer, plan="growth")
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)
        first = await service.add_channel(
            session, sealer, project, kind="live", name="a", phone_number_id="1001", waba_id="2001",
            access_token="EAAfirst", display_phone_number="",
        )  # fmt: skip
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        assert (await service.resolve_channel(session, tenant)).id == first.id
    async with database.engine.begin() as conn:  # added by another process: found at once
        second_id = "ch-second"
        await conn.execute(
            insert(Channel).values(
                id=second_id, project_id=project.id, kind="live", name="b", phone_number_id="1002",
                waba_id="2002", access_token_sealed="x", display_phone_number="", status="active",
                created_at=utcnow(),
            )
        )  # fmt: skip
    async with database.session() as session:
        assert (await service.resolve_channel(session, tenant, phone_number_id="1002")).id == second_id
    async with database.transaction() as session:  # disconnected by this process: refused at once
        channel = await session.get(Channel, first.id)
        channel.status = "disabled"
    async with database.session() as session:
        with pytest.raises(ApiError) as err:
            await service.resolve_channel(session, tenant, phone_number_id="1001")
        assert err.value.status == 409 and "disconnected" in err.value.message


async def test_account_tokens_authenticate_until_revoked(database: Database, sealer: Sealer) -> None:
    account, _ = await _project(database, sealer)
    async with database.transaction() as session:
        token = await service.mint_account_token(session, account)
    async with database.session() as session:
        found = await service.account_for_token(session, token)
        assert found is not None and found.id == account.id
        assert await service.account_for_token(session, token + "x") is None


async def test_duplicate_names_conflict(database: Database, sealer: Sealer) -> None:
    await _project(database, sealer)
    async with database.session() as session:
        with pytest.raises(ApiError) as err:
            await service.create_account(session, "acme")
        assert err.value.status == 409
        with pytest.raises(ApiError) as err:
            await service.create_account(session, "other", "platinum")
        assert err.value.status == 400


async def test_tenant_outlives_a_rollback_and_concurrent_first_sends(
    database: Database, sealer: Sealer
) -> None:
    """Regression: a rollback in the request's session expired the tenant (MissingGreenlet → 500)."""
    import asyncio

    _, project = await _project(database, sealer, plan="growth")
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)

    async def first_send_of_the_day() -> str:
        async with database.session() as session:
            tenant = await service.tenant_for_key(session, secret)
            await session.rollback()
            await service.consume_outbound_quota(session, tenant)
            await session.commit()
            return tenant.project.id

    assert set(await asyncio.gather(*(first_send_of_the_day() for _ in range(8)))) == {project.id}


async def test_a_channel_added_in_a_rolled_back_transaction_is_not_shared(
    database: Database, sealer: Sealer
) -> None:
    """Regression: the shared lookup read through the caller's transaction and kept its uncommitted rows."""
    _, project = await _project(database, sealer, plan="growth")
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)
        await service.add_channel(
            session, sealer, project, kind="live", name="a", phone_number_id="1001", waba_id="2001",
            access_token="EAAfirst", display_phone_number="",
        )  # fmt: skip
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        await service.add_channel(
            session, sealer, project, kind="live", name="b", phone_number_id="1002", waba_id="2002",
            access_token="EAAsecond", display_phone_number="",
        )  # fmt: skip
        assert (await service.resolve_channel(session, tenant, phone_number_id="1002")).name == "b"
        await session.rollback()
    async with database.session() as session:
        with pytest.raises(ApiError) as err:
            await service.resolve_channel(session, tenant, phone_number_id="1002")
        assert err.value.status == 404


async def test_a_channel_found_by_a_session_with_changes_stays_in_that_session(
    database: Database, sealer: Sealer
) -> None:
    """Regression: the lookup detached what it found even when nothing was shared, so a session that
    found its own new channel and changed it again lost that change at its commit."""
    _, project = await _project(database, sealer, plan="growth")
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        await service.add_channel(
            session, sealer, project, kind="live", name="new", phone_number_id="1003", waba_id="2003",
            access_token="EAAthird", display_phone_number="",
        )  # fmt: skip
        found = await service.resolve_channel(session, tenant, phone_number_id="1003")
        found.name = "renamed"
        await session.commit()
    async with database.session() as session:
        names = set((await session.execute(select(Channel.name))).scalars())
    assert "renamed" in names


async def test_a_project_enabled_in_a_rolled_back_transaction_is_not_shared(
    database: Database, sealer: Sealer
) -> None:
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project)
    async with database.session() as session:
        assert await service.tenant_for_key(session, secret) is not None  # used: no touch for a while
    async with database.transaction() as session:
        (await session.get(Project, project.id)).disabled_reason = "Suspended."
    async with database.session() as session:
        (await session.get(Project, project.id)).disabled_reason = None
        await session.flush()
        assert await service.tenant_for_key(session, secret) is not None  # its own transaction's view
        await session.rollback()
    async with database.session() as session:
        with pytest.raises(ApiError) as err:
            await service.tenant_for_key(session, secret)
        assert err.value.status == 403


async def test_concurrent_requests_of_a_key_record_its_use_once(database: Database, sealer: Sealer) -> None:
    """The requests that find the key in the cache together do not all write ``last_used_at`` (each
    write also empties the process's key and channel caches)."""
    _, project = await _project(database, sealer)
    async with database.transaction() as session:
        _, secret = await service.mint_api_key(session, project, "live")
    writes: list[str] = []

    def count(conn, cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            writes.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:

        async def request() -> None:
            async with database.session() as session:
                assert await service.tenant_for_key(session, secret) is not None

        await asyncio.gather(*(request() for _ in range(8)))
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert len(writes) == 1
    async with database.session() as session:
        assert (await session.scalar(select(ApiKey.last_used_at))) is not None
