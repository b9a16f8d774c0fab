"""Access-token checks, answered as Meta answers them."""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from kirem.config import Settings
from kirem.kit.ttl_cache import TtlCache
from kirem.sandbox.errors import MetaError, invalid_token, missing_token, unsupported_request
from kirem.sandbox.ids import hash_token
from kirem.sandbox.models import SandboxNumber


def request_token(request: Request) -> str | None:
    """``Authorization: Bearer …`` or, as Graph also allows, the ``access_token`` query parameter."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
        return ""
    return request.query_params.get("access_token")


async def authenticate(
    session: AsyncSession, request: Request, cache: TtlCache[SandboxNumber] | None = None
) -> SandboxNumber:
    """The number the request's token belongs to; 401 (code 104 or 190) otherwise.

    With ``cache`` (:mod:`kirem.sandbox.lookups`) the number may be a detached copy: read it only."""
    token = request_token(request)
    if token is None:
        raise missing_token()
    token_hash = hash_token(token)

    async def lookup() -> SandboxNumber | None:
        stmt = select(SandboxNumber).where(SandboxNumber.access_token_hash == token_hash)
        found = await session.scalar(stmt)
        if found is not None and cache is not None:
            session.expunge(found)
        return found

    number = await (cache.load(token_hash, lookup) if cache is not None else lookup())
    if number is None:
        raise invalid_token()
    return number


async def authorize_number(
    session: AsyncSession,
    request: Request,
    phone_number_id: str,
    cache: TtlCache[SandboxNumber] | None = None,
) -> SandboxNumber:
    """The token's number when it is ``phone_number_id``; Meta's 100/33 for any other object."""
    number = await authenticate(session, request, cache)
    if number.phone_number_id != phone_number_id:
        raise unsupported_request(request.method, phone_number_id)
    return number


async def authorize_waba(session: AsyncSession, request: Request, waba_id: str) -> SandboxNumber:
    number = await authenticate(session, request)
    if number.waba_id != waba_id:
        raise unsupported_request(request.method, waba_id)
    return number


def authorize_simulator(settings: Settings, request: Request) -> None:
    """The simulator makes Kirem believe a customer (or the owner's phone) did something.

    In development it is open. In production it needs ``Authorization: Bearer
    <KIREM_OPERATOR_TOKEN>``, and without an operator token it is closed: a forged customer
    message must never reach a production server.
    """
    if settings.env != "production":
        return
    expected = settings.operator_token
    if not expected:
        raise MetaError(
            403,
            10,
            "(#10) The sandbox simulator is closed in production: set KIREM_OPERATOR_TOKEN to use it.",
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if not token:
        raise missing_token() if not header else invalid_token()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise invalid_token()
