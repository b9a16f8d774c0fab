"""Accounts, projects, keys and channels: creation, lookup, revocation and plan checks."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Insert, Table, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.crypto import Sealer
from kirem.db.base import utcnow
from kirem.db.scope import dialect_insert, flush_unique, for_project, get_owned, insert_if_absent
from kirem.kit.enums import ChannelStatus
from kirem.kit.errors import Conflict, DomainError, Forbidden, Invalid, not_found
from kirem.tenancy.cache import TtlCache, holds_changes
from kirem.tenancy.limits import enforce_count_limit, plan_error
from kirem.tenancy.models import Account, AccountToken, ApiKey, Channel, DailyUsage, Project
from kirem.tenancy.plans import PLANS, PlanLimits, limits_for
from kirem.tenancy.tokens import display_prefix, generate_secret, hash_secret, random_secret

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, so authentication stays a read."""


@dataclass(frozen=True)
class Tenant:
    """The project acted on, its account and the plan's limits: every service takes this one type.

    ``api_key`` is the calling key of an API request; an operator acting on a project (the CLI, the
    dashboard) has none (:func:`tenant_for_project`).
    """

    account: Account
    project: Project
    limits: PlanLimits
    api_key: ApiKey | None = None

    @property
    def project_id(self) -> str:
        return self.project.id

    @property
    def calling_key(self) -> ApiKey:
        """The API key of the request (a tenant of :func:`tenant_for_key` always has one)."""
        if self.api_key is None:
            raise LookupError("an operator's tenant acts without an API key")
        return self.api_key

    @property
    def key_mode(self) -> str:
        """``test`` for a test key; ``live`` for a live key and for an operator."""
        return self.api_key.mode if self.api_key is not None else "live"


KEY_SCOPES = ("api", "mcp")


def check_plan_name(plan: str) -> None:
    if plan not in PLANS:
        raise Invalid({"plan": f"must be one of {', '.join(PLANS)}"}, "Unknown plan")


# Accounts ------------------------------------------------------------------------------------


async def create_account(session: AsyncSession, name: str, plan: str = "developer") -> Account:
    check_plan_name(plan)
    taken = Conflict("An account with this name already exists", {"name": name})
    if await find_account(session, name):
        raise taken
    account = Account(name=name, plan=plan, limit_overrides={})
    session.add(account)
    await flush_unique(session, taken)
    return account


async def find_account(session: AsyncSession, name: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.name == name))).scalar_one_or_none()


async def mint_account_token(session: AsyncSession, account: Account) -> str:
    token = random_secret("kirem_acct_")
    session.add(
        AccountToken(account_id=account.id, token_hash=hash_secret(token), prefix=display_prefix(token))
    )
    await session.flush()
    return token


async def account_for_token(session: AsyncSession, token: str) -> Account | None:
    stmt = (
        select(Account, AccountToken)
        .join(AccountToken, AccountToken.account_id == Account.id)
        .where(AccountToken.token_hash == hash_secret(token), AccountToken.revoked_at.is_(None))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    account, record = row
    now = utcnow()
    if _use_due(record.last_used_at, now):
        await _record_use(session, AccountToken, record.id, now)
    return account


def account_limits(account: Account) -> PlanLimits:
    return limits_for(account.plan, account.limit_overrides)


# Projects ------------------------------------------------------------------------------------


async def create_project(session: AsyncSession, sealer: Sealer, account: Account, name: str) -> Project:
    await enforce_count_limit(
        session,
        Account,
        account.id,
        select(func.count()).select_from(Project).where(Project.account_id == account.id),
        limit=account_limits(account).projects,
        feature="projects",
        plan=account.plan,
        noun="project(s)",
    )
    taken = Conflict("A project with this name already exists in the account", {"name": name})
    if await find_project(session, account, name):
        raise taken
    project = Project(account_id=account.id, name=name, webhook_secret_sealed="")
    session.add(project)
    await flush_unique(session, taken)
    project.webhook_secret_sealed = sealer.seal(generate_secret(), project.id, "webhook_secret")
    await session.flush()
    return project


async def account_projects(session: AsyncSession, account: Account) -> list[Project]:
    """The account's projects, oldest first."""
    stmt = select(Project).where(Project.account_id == account.id).order_by(Project.created_at, Project.id)
    return list((await session.execute(stmt)).scalars())


async def find_project(session: AsyncSession, account: Account, name: str) -> Project | None:
    stmt = select(Project).where(Project.account_id == account.id, Project.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def account_project(session: AsyncSession, account: Account, project_id: str) -> Project:
    stmt = select(Project).where(Project.account_id == account.id, Project.id == project_id)
    project = (await session.execute(stmt)).scalar_one_or_none()
    if project is None:
        raise not_found("Project")
    return project


def webhook_secret(sealer: Sealer, project: Project) -> str:
    return sealer.open(project.webhook_secret_sealed, project.id, "webhook_secret")


# API keys ------------------------------------------------------------------------------------


async def mint_api_key(
    session: AsyncSession, project: Project, mode: str = "live", name: str = "default", scope: str = "api"
) -> tuple[ApiKey, str]:
    """A new key; ``scope`` ``mcp`` binds it to the project's dedicated MCP endpoint alone."""
    if mode not in ("live", "test"):
        raise Invalid({"mode": "must be 'live' or 'test'"}, "Invalid key mode")
    if scope not in KEY_SCOPES:
        raise Invalid({"scope": "must be 'api' or 'mcp'"}, "Invalid key scope")
    secret = random_secret(f"kirem_{mode}_" if scope == "api" else f"kirem_{scope}_{mode}_")
    key = ApiKey(
        project_id=project.id,
        name=name,
        mode=mode,
        scope=scope,
        key_hash=hash_secret(secret),
        prefix=display_prefix(secret),
    )
    session.add(key)
    await session.flush()
    return key, secret


async def revoke_api_key(session: AsyncSession, project: Project, key_id: str) -> ApiKey:
    key = await get_owned(session, ApiKey, key_id, project.id)
    if key is None:
        raise not_found("API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


_tenants: TtlCache[Tenant] = TtlCache()
_active_channels: TtlCache[list[Channel]] = TtlCache()


async def tenant_for_key(session: AsyncSession, secret: str) -> Tenant | None:
    """The project a live (unrevoked) key speaks for; cached briefly (:mod:`kirem.tenancy.cache`)."""
    key_hash = hash_secret(secret)
    alone = holds_changes(session)
    tenant = await _tenants.load(key_hash, lambda: _find_tenant(session, key_hash), alone=alone)
    if tenant is None:
        return None
    key = tenant.calling_key
    now = utcnow()
    if _use_due(key.last_used_at, now):
        key.last_used_at = now  # before the write: the requests sharing this cached key skip theirs
        await _record_use(session, ApiKey, key.id, now)
    return tenant


async def _find_tenant(session: AsyncSession, key_hash: str) -> Tenant | None:
    stmt = (
        select(ApiKey, Project, Account)
        .join(Project, Project.id == ApiKey.project_id)
        .join(Account, Account.id == Project.account_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    key, project, account = row
    if project.disabled_reason is not None:
        raise Forbidden(f"This project is disabled. {project.disabled_reason}", {"project_id": project.id})
    for loaded in (key, project, account):
        session.expunge(loaded)  # detached: later rollbacks in this session cannot expire them
    return Tenant(account=account, project=project, api_key=key, limits=account_limits(account))


def _use_due(last: datetime | None, now: datetime) -> bool:
    """Whether a use is recorded now: at most every :data:`LAST_USED_RESOLUTION`."""
    return last is None or now - last >= LAST_USED_RESOLUTION


async def _record_use(
    session: AsyncSession, model: type[ApiKey] | type[AccountToken], row_id: str, now: datetime
) -> None:
    await session.execute(update(model).where(model.id == row_id).values(last_used_at=now))
    await session.commit()


# Channels ------------------------------------------------------------------------------------


async def check_channel_quota(session: AsyncSession, account: Account) -> None:
    """403 past the plan's active channels; the account stays locked until the caller commits."""
    active = (
        select(func.count())
        .select_from(Channel)
        .join(Project, Project.id == Channel.project_id)
        .where(Project.account_id == account.id, Channel.status == ChannelStatus.ACTIVE)
    )
    await enforce_count_limit(
        session,
        Account,
        account.id,
        active,
        limit=account_limits(account).channels,
        feature="channels",
        plan=account.plan,
        noun="channel(s)",
    )


async def add_channel(
    session: AsyncSession,
    sealer: Sealer,
    project: Project,
    *,
    kind: str,
    phone_number_id: str,
    waba_id: str,
    access_token: str,
    display_phone_number: str = "",
    name: str = "",
) -> Channel:
    taken = await session.scalar(
        select(func.count()).select_from(Channel).where(Channel.phone_number_id == phone_number_id)
    )
    connected = Conflict("This phone number is already connected", {"phone_number_id": phone_number_id})
    if taken:
        raise connected
    channel = Channel(
        project_id=project.id,
        kind=kind,
        name=name,
        phone_number_id=phone_number_id,
        waba_id=waba_id,
        display_phone_number=display_phone_number,
        access_token_sealed="",
    )
    session.add(channel)
    await flush_unique(session, connected)
    channel.access_token_sealed = sealer.seal(access_token, project.id, channel.id, "access_token")
    await session.flush()
    return channel


def channel_token(sealer: Sealer, channel: Channel) -> str:
    return _opened_token(sealer, channel.access_token_sealed, channel.project_id, channel.id)


@functools.lru_cache(maxsize=1024)
def _opened_token(sealer: Sealer, sealed: str, project_id: str, channel_id: str) -> str:
    """A channel's token, opened once per sealed value (every send needs it; a new token is a new
    sealed value, so nothing goes stale)."""
    return sealer.open(sealed, project_id, channel_id, "access_token")


async def list_channels(session: AsyncSession, project_id: str) -> list[Channel]:
    stmt = for_project(Channel, project_id).order_by(Channel.created_at, Channel.id)
    return list((await session.execute(stmt)).scalars())


async def resolve_channel(
    session: AsyncSession,
    tenant: Tenant,
    *,
    phone_number_id: str | None = None,
    channel_id: str | None = None,
) -> Channel:
    """The channel a request speaks through: named by id or number, else the project's first active one.

    A named channel that is not active (disconnected, or disabled by the plan) is a 409 saying why.
    The project's active channels are cached briefly (:mod:`kirem.tenancy.cache`); a channel not in
    the cached list is looked for in the database, so one added by another process is found at once.
    """

    def wanted(channel: Channel) -> bool:
        if channel_id is not None and channel_id not in (channel.id, channel.phone_number_id):
            return False
        return phone_number_id is None or channel.phone_number_id == phone_number_id

    alone = holds_changes(session)
    cached = None if alone else _active_channels.get(tenant.project_id)
    found = next((channel for channel in cached if wanted(channel)), None) if cached else None
    if found is not None:
        return found

    async def active_channels() -> list[Channel]:
        stmt = for_project(Channel, tenant.project_id).where(Channel.status == ChannelStatus.ACTIVE)
        channels = list((await session.execute(stmt.order_by(Channel.created_at, Channel.id))).scalars())
        if not alone:
            for channel in channels:
                session.expunge(channel)  # shared by later requests: detached, read-only
        return channels

    channels = await _active_channels.load(
        tenant.project_id, active_channels, cached=cached is None, alone=alone
    )
    found = next((channel for channel in channels or [] if wanted(channel)), None)
    if found is not None:
        return found
    if channel_id is None and phone_number_id is None:
        raise Conflict("This project has no active channel; connect a WhatsApp number first")
    named = for_project(Channel, tenant.project_id).where(Channel.status != ChannelStatus.ACTIVE)
    if channel_id is not None:
        named = named.where(or_(Channel.id == channel_id, Channel.phone_number_id == channel_id))
    if phone_number_id is not None:
        named = named.where(Channel.phone_number_id == phone_number_id)
    inactive = (
        await session.execute(named.order_by(Channel.created_at, Channel.id).limit(1))
    ).scalar_one_or_none()
    if inactive is None:
        raise not_found("Channel")
    check_channel_use(tenant, inactive)
    return inactive


def check_channel_use(tenant: Tenant, channel: Channel) -> None:
    """The rules of the calling key and of the channel, for any call to Meta through ``channel``.

    Checked by :func:`kirem.messaging.service.graph_and_token`, the one way to a channel's token,
    so they hold however the channel was found (number, id, conversation, media id, WABA).
    """
    if channel.project_id != tenant.project_id:
        raise not_found("Channel")
    if channel.status != ChannelStatus.ACTIVE:
        reason = f"This channel is disabled. {channel.disabled_reason}" if channel.disabled_reason else None
        raise Conflict(reason or "This channel is disconnected", {"channel_id": channel.id})
    if tenant.key_mode == "test" and channel.kind != "sandbox":
        raise Forbidden("Test keys (kirem_test_…) may only use sandbox channels", {"channel_id": channel.id})


# Usage ---------------------------------------------------------------------------------------


async def consume_outbound_quota(session: AsyncSession, tenant: Tenant, now: datetime | None = None) -> None:
    """Count one outbound message for today (the caller commits); 429 once the daily quota is used."""
    if not await reserve_outbound_quota(session, tenant.account.id, tenant.limits.outbound_per_day, 1, now):
        raise outbound_quota_error(tenant)


async def reserve_outbound_quota(
    session: AsyncSession, account_id: str, limit: int | None, wanted: int, now: datetime | None = None
) -> int:
    """Count up to ``wanted`` outbound messages for today (the caller commits); how many fit the quota.

    Unlimited: one upsert adding ``wanted``. Limited: today's row is made to exist, read locked
    (``FOR UPDATE`` on PostgreSQL; on SQLite the insert already took the database's write lock),
    and raised by what still fits, so concurrent sends (and batches of them) admit exactly the quota.
    """
    day = (now or utcnow()).date().isoformat()
    if limit is not None and limit <= 0:
        return 0
    today = (DailyUsage.account_id == account_id, DailyUsage.day == day)
    if limit is None:
        values = {"account_id": account_id, "day": day, "outbound_messages": wanted}
        await session.execute(_added_to_day(session.get_bind().dialect.name), values)
        return wanted
    await insert_if_absent(session, DailyUsage, account_id=account_id, day=day, outbound_messages=0)
    used = await session.scalar(select(DailyUsage.outbound_messages).where(*today).with_for_update())
    admitted = max(0, min(wanted, limit - int(used or 0)))
    if admitted:
        raised = DailyUsage.outbound_messages + admitted
        await session.execute(update(DailyUsage).where(*today).values(outbound_messages=raised))
    return admitted


@functools.cache
def _added_to_day(dialect_name: str) -> Insert:
    """Count ``:outbound_messages`` more for ``(:account_id, :day)``, made if absent (no quota to
    check); built once per dialect."""
    table = cast("Table", DailyUsage.__table__)
    stmt = dialect_insert(dialect_name, table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.account_id, table.c.day],
        set_={"outbound_messages": table.c.outbound_messages + stmt.excluded.outbound_messages},
    )


def outbound_quota_error(tenant: Tenant) -> DomainError:
    limit = tenant.limits.outbound_per_day
    return plan_error(
        "outbound_per_day",
        f"Daily limit of {limit} outbound messages reached on the {tenant.account.plan} plan.",
        (limit or 0) + 1,
        status=429,
    )


async def release_outbound_quota(session: AsyncSession, tenant: Tenant, now: datetime | None = None) -> None:
    """Give back a counted message that Meta refused synchronously (the caller commits)."""
    day = (now or utcnow()).date().isoformat()
    stmt = (
        update(DailyUsage)
        .where(
            DailyUsage.account_id == tenant.account.id,
            DailyUsage.day == day,
            DailyUsage.outbound_messages > 0,
        )
        .values(outbound_messages=DailyUsage.outbound_messages - 1)
    )
    await session.execute(stmt)


async def tenant_for_project(session: AsyncSession, project: Project) -> Tenant:
    """An operator's tenant for ``project`` (no API key): the CLI and the dashboard act through it."""
    account = await session.get(Account, project.account_id)
    if account is None:  # pragma: no cover - the foreign key makes this impossible
        raise not_found("Account")
    return Tenant(account=account, project=project, limits=account_limits(account))
