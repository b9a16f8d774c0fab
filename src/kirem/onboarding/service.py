"""Setup links: creation and listing for the agency, and the signup callback that connects the client.

The callback runs Meta's sequence after Embedded Signup: exchange the code for the business token,
subscribe the app to the WABA, then register the number — or, for a number that stays on the
WhatsApp Business app (coexistence), start its contact and history sync instead. Only then is a
project created for the client under the agency's account, with the channel and its sealed token,
and ``channels.connected`` recorded for the agency's project (fanned out to its targets).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.crypto import Sealer
from kirem.db.base import utcnow
from kirem.db.scope import changed_rows, for_project, get_owned
from kirem.delivery.enqueue import fan_out
from kirem.inbound.events import record_event
from kirem.kit.bodies import check_flag
from kirem.kit.errors import Conflict, DomainError, Forbidden, NotFound, found, invalid
from kirem.kit.paging import rows_of
from kirem.kit.views import view_of
from kirem.meta.client import GraphClient, MetaApiError, MetaUnavailable
from kirem.meta.ids import is_graph_id
from kirem.onboarding.models import SetupLink
from kirem.sandbox.onboarding import SANDBOX_APP_ID
from kirem.signals import DELIVERIES, notify
from kirem.tenancy.limits import plan_error
from kirem.tenancy.models import Account, Project
from kirem.tenancy.service import Tenant, add_channel, check_channel_quota, create_project, find_project
from kirem.tenancy.tokens import hash_secret

DEFAULT_EXPIRY = timedelta(days=7)
MIN_EXPIRY_SECONDS = 300
MAX_EXPIRY_SECONDS = 30 * 86_400
MAX_URL_LENGTH = 2000
MAX_CODE_LENGTH = 4096
SYNC_TYPES = ("smb_app_state_sync", "history")
"""What a coexistence onboarding asks Meta to sync from the phone app, in this order."""


class PageError(Exception):
    """A setup page or callback that cannot go on: shown to the client as a page with this status."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.text = text


def link_status(link: SetupLink, now: datetime) -> str:
    if link.status == "pending" and now >= link.expires_at:
        return "expired"
    return link.status


LINK_FIELDS = (
    "id client_name redirect_url coexistence mode status failure_reason expires_at completed_at"
    " project_id channel_id registration_pin created_at"
)


def link_view(sealer: Sealer, link: SetupLink, now: datetime, url: str | None = None) -> dict[str, Any]:
    view = view_of(
        link,
        LINK_FIELDS,
        status=link_status(link, now),
        project_id=link.client_project_id,
        registration_pin=None if link.coexistence else sealer.open(link.pin_sealed, link.id, "pin"),
    )
    if url is not None:
        view["url"] = url
    return view


# Creating and managing links (the agency's project key) -------------------------------------


@dataclass(frozen=True)
class LinkRequest:
    client_name: str
    redirect_url: str
    expires_in: int
    coexistence: bool
    pin: str | None
    sandbox: bool | None


def _redirect_url(value: object, production: bool) -> str | None:
    """The error for a redirect URL, or None when it is an absolute http(s) URL (https in production)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return f"is required: an absolute http(s) URL of at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "must be an absolute http(s) URL"
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ord(c) < 33 for c in value):
        return "must be an absolute http(s) URL"
    if parts.username or parts.password:
        return "must not carry credentials"
    if production and parts.scheme != "https":
        return "must be an https URL in production"
    return None


def parse_link_request(body: dict[str, Any], production: bool) -> LinkRequest:
    errors: dict[str, str] = {}
    name = body.get("client_name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
        errors["client_name"] = "is required: a string of 1 to 200 characters"
    url_error = _redirect_url(body.get("redirect_url"), production)
    if url_error:
        errors["redirect_url"] = url_error
    expires_in = body.get("expires_in_seconds", int(DEFAULT_EXPIRY.total_seconds()))
    if (
        not isinstance(expires_in, int)
        or isinstance(expires_in, bool)
        or not MIN_EXPIRY_SECONDS <= expires_in <= MAX_EXPIRY_SECONDS
    ):
        errors["expires_in_seconds"] = f"must be an integer from {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}"
    flags: dict[str, bool] = {}
    for flag in ("coexistence", "sandbox"):
        check_flag(body, flag, flags, errors)
    pin = body.get("pin")
    if pin is not None and (
        not isinstance(pin, str) or len(pin) != 6 or not pin.isascii() or not pin.isdigit()
    ):
        errors["pin"] = "must be a string of 6 digits (the number's two-step verification PIN)"
    if errors:
        raise invalid(errors)
    return LinkRequest(
        client_name=str(name).strip(),
        redirect_url=str(body["redirect_url"]),
        expires_in=int(expires_in),
        coexistence=flags.get("coexistence", False),
        pin=pin,
        sandbox=flags.get("sandbox"),
    )


def live_signup_configured(ctx: AppContext) -> bool:
    settings = ctx.settings
    return bool(settings.meta_app_id and settings.meta_config_id and settings.meta_app_secret)


def _mode(ctx: AppContext, tenant: Tenant, wanted: bool | None) -> str:
    """Live Embedded Signup when configured, else the sandbox's; test keys and ``sandbox: true`` want it."""
    sandbox = wanted if wanted is not None else (tenant.key_mode == "test" or not live_signup_configured(ctx))
    if sandbox:
        if not ctx.settings.sandbox_enabled:
            raise Conflict("The sandbox is disabled on this server (KIREM_SANDBOX=false)", {"sandbox": True})
        return "sandbox"
    if tenant.key_mode == "test":
        raise Forbidden("Test keys (kirem_test_…) may only create sandbox setup links", {"sandbox": False})
    if not live_signup_configured(ctx):
        raise Conflict(
            "Embedded Signup is not configured on this server: set KIREM_META_APP_ID, "
            "KIREM_META_CONFIG_ID and KIREM_META_APP_SECRET",
            {"sandbox": False},
        )
    return "live"


async def create_link(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, body: dict[str, Any]
) -> tuple[SetupLink, str]:
    """A new pending link and its one-time URL (the only time the URL's secret is shown)."""
    if not tenant.limits.customer_setup_links:
        raise plan_error(
            "customer_setup_links", f"Customer Setup Links are not part of the {tenant.account.plan} plan."
        )
    request = parse_link_request(body, ctx.settings.env == "production")
    mode = _mode(ctx, tenant, request.sandbox)
    secret = secrets.token_urlsafe(32)
    link = SetupLink(
        account_id=tenant.account.id,
        project_id=tenant.project_id,
        client_name=request.client_name,
        redirect_url=request.redirect_url,
        coexistence=request.coexistence,
        mode=mode,
        token_hash=hash_secret(secret),
        pin_sealed="",
        status="pending",
        expires_at=utcnow() + timedelta(seconds=request.expires_in),
    )
    session.add(link)
    await session.flush()
    pin = request.pin or f"{secrets.randbelow(10**6):06d}"
    link.pin_sealed = ctx.sealer.seal(pin, link.id, "pin")
    await session.flush()
    return link, f"{ctx.settings.base_url}/setup/{secret}"


async def list_links(session: AsyncSession, project_id: str) -> list[SetupLink]:
    stmt = for_project(SetupLink, project_id).order_by(SetupLink.created_at.desc(), SetupLink.id)
    return await rows_of(session, stmt)


async def get_link(session: AsyncSession, project_id: str, link_id: str) -> SetupLink:
    return found(await get_owned(session, SetupLink, link_id, project_id), "Setup link")


# The client's side: the hosted page and the callback -----------------------------------------


def _unknown() -> PageError:
    return PageError(404, "This setup link is not valid", "Ask whoever sent it to you for a new link.")


async def link_for_secret(session: AsyncSession, secret: str) -> SetupLink:
    """The pending, unexpired link whose URL holds ``secret``; a page error for any other."""
    if not secret or len(secret) > 100:
        raise _unknown()
    link = await session.scalar(select(SetupLink).where(SetupLink.token_hash == hash_secret(secret)))
    if link is None:
        raise _unknown()
    status = link_status(link, utcnow())
    if status == "expired":
        raise PageError(410, "This setup link has expired", "Ask whoever sent it to you for a new link.")
    if status != "pending":
        raise PageError(409, "This setup link has already been used", "Each link connects one number once.")
    return link


@dataclass(frozen=True)
class SignupResult:
    """What Embedded Signup handed the page: the code and the ids of the client's WABA and number."""

    code: str
    waba_id: str
    phone_number_id: str


def parse_callback(params: dict[str, str]) -> SignupResult:
    code = params.get("code", "")
    waba_id = params.get("waba_id", "")
    phone_number_id = params.get("phone_number_id", "")
    if (
        not code
        or len(code) > MAX_CODE_LENGTH
        or not is_graph_id(waba_id)
        or not is_graph_id(phone_number_id)
    ):
        raise PageError(
            400,
            "The signup did not finish",
            "Meta's signup answered without a code, WABA and phone number. Open the link again to finish.",
        )
    return SignupResult(code, waba_id, phone_number_id)


async def _claim(session: AsyncSession, link: SetupLink) -> None:
    """Move the link from pending to processing, once: a replayed or concurrent callback gets a 409."""
    now = utcnow()
    claimed = await session.execute(
        update(SetupLink)
        .where(SetupLink.id == link.id, SetupLink.status == "pending", SetupLink.expires_at > now)
        .values(status="processing")
    )
    await session.commit()
    if changed_rows(claimed) == 0:
        raise PageError(409, "This setup link has already been used", "Each link connects one number once.")


def _graph_app(ctx: AppContext, link: SetupLink) -> tuple[GraphClient, str, str]:
    if link.mode == "sandbox":
        if ctx.sandbox_graph is None or ctx.sandbox_app_secret is None:
            raise Conflict("The sandbox is disabled on this server (KIREM_SANDBOX=false)")
        return ctx.sandbox_graph, SANDBOX_APP_ID, ctx.sandbox_app_secret
    settings = ctx.settings
    if not (settings.meta_app_id and settings.meta_app_secret):
        raise Conflict("Embedded Signup is no longer configured on this server")
    return ctx.live_graph, settings.meta_app_id, settings.meta_app_secret


@dataclass(frozen=True)
class Onboarded:
    token: str
    display_phone_number: str
    verified_name: str


async def _onboard(ctx: AppContext, link: SetupLink, signup: SignupResult) -> Onboarded:
    """Meta's calls after Embedded Signup, in order; Meta's errors propagate."""
    graph, app_id, app_secret = _graph_app(ctx, link)
    token = await graph.exchange_code(app_id, app_secret, signup.code)
    await graph.subscribe_app(signup.waba_id, token)
    if link.coexistence:
        for sync_type in SYNC_TYPES:
            await graph.sync_smb_app_data(signup.phone_number_id, token, sync_type)
    else:
        pin = ctx.sealer.open(link.pin_sealed, link.id, "pin")
        await graph.register_number(signup.phone_number_id, token, pin)
    number = await graph.phone_number(
        signup.phone_number_id, token, {"fields": "id,display_phone_number,verified_name"}
    )
    return Onboarded(
        token, str(number.get("display_phone_number") or "")[:32], str(number.get("verified_name") or "")
    )


async def _client_project(
    ctx: AppContext, session: AsyncSession, account: Account, link: SetupLink
) -> Project:
    name = link.client_name
    if await find_project(session, account, name) is not None:
        name = f"{link.client_name[:150]} ({link.id})"
    return await create_project(session, ctx.sealer, account, name)


async def _connect(ctx: AppContext, link_id: str, signup: SignupResult, onboarded: Onboarded) -> SetupLink:
    """The client's project, its channel and ``channels.connected``, in one transaction."""
    async with ctx.db.transaction() as session:
        link = await session.get(SetupLink, link_id)
        account = await session.get(Account, link.account_id) if link else None
        if link is None or account is None:
            raise NotFound("The setup link was deleted while the signup ran")
        await check_channel_quota(session, account)
        project = await _client_project(ctx, session, account, link)
        channel = await add_channel(
            session,
            ctx.sealer,
            project,
            kind="live" if link.mode == "live" else "sandbox",
            name=onboarded.verified_name or link.client_name,
            phone_number_id=signup.phone_number_id,
            waba_id=signup.waba_id,
            access_token=onboarded.token,
            display_phone_number=onboarded.display_phone_number,
        )
        now = utcnow()
        link.status = "completed"
        link.completed_at = now
        link.client_project_id = project.id
        link.channel_id = channel.id
        event = await record_event(
            session,
            project_id=link.project_id,
            type="channels.connected",
            dedup_key=f"channels.connected:{link.id}",
            data={
                "setup_link_id": link.id,
                "client_name": link.client_name,
                "project_id": project.id,
                "channel_id": channel.id,
                "phone_number_id": channel.phone_number_id,
                "waba_id": channel.waba_id,
                "display_phone_number": channel.display_phone_number,
                "coexistence": link.coexistence,
                "mode": link.mode,
            },
            now=now,
        )
        if event is not None:
            await fan_out(session, event, now=now)
            await notify(session, DELIVERIES)
    ctx.signals.wake(DELIVERIES)
    return link


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, MetaApiError):
        return f"Meta refused the onboarding: {exc.message}"
    if isinstance(exc, MetaUnavailable):
        return f"Meta could not be reached: {exc}"
    if isinstance(exc, DomainError):
        return exc.message
    return "the onboarding failed"


async def _fail(ctx: AppContext, link_id: str, reason: str) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(
            update(SetupLink)
            .where(SetupLink.id == link_id, SetupLink.status == "processing")
            .values(status="failed", failure_reason=reason[:1000], completed_at=utcnow())
        )


def outcome_url(link: SetupLink, **outcome: str) -> str:
    """The agency's redirect URL with the outcome in its query: ``setup_link_id``, ``status``, …"""
    query = urlencode({"setup_link_id": link.id, **outcome})
    return f"{link.redirect_url}{'&' if urlsplit(link.redirect_url).query else '?'}{query}"


async def complete_signup(ctx: AppContext, params: dict[str, str]) -> str:
    """Run the callback for ``params`` (``state``, ``code``, ``waba_id``, ``phone_number_id``).

    Returns where to send the browser: the agency's redirect URL with the outcome. A link that is
    unknown, expired or already used, or a callback without Meta's answer, is a :class:`PageError`.
    """
    async with ctx.db.session() as session:
        link = await link_for_secret(session, params.get("state", ""))
        signup = parse_callback(params)
        await _claim(session, link)
    try:
        onboarded = await _onboard(ctx, link, signup)
        link = await _connect(ctx, link.id, signup, onboarded)
    except (MetaApiError, MetaUnavailable, DomainError) as exc:
        reason = _failure_reason(exc)
        await _fail(ctx, link.id, reason)
        return outcome_url(link, status="failed", reason=reason[:300])
    assert link.client_project_id is not None and link.channel_id is not None
    return outcome_url(
        link, status="completed", project_id=link.client_project_id, channel_id=link.channel_id
    )
