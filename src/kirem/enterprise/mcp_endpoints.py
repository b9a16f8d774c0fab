"""A project's dedicated MCP endpoint, ``/v1/mcp/{slug}`` (enterprise plan).

It serves the same tools as ``/v1/mcp`` but is the project's alone: it answers only API keys of
scope ``mcp`` minted for this project (which in turn work nowhere else), and its requests draw on
one token bucket of the endpoint's own rate, shared by its keys and separate from the REST API's
per-key limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.scope import flush_unique
from kirem.enterprise.models import McpEndpoint
from kirem.kit.errors import Conflict, invalid, not_found
from kirem.kit.params import iso
from kirem.ratelimit import RateLimiter
from kirem.tenancy.limits import require_plan
from kirem.tenancy.models import Account, Project
from kirem.tenancy.plans import PlanLimits, limits_for

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$")
MAX_RATE = 10_000.0
DEFAULT_RATE = 20.0


@dataclass(frozen=True)
class EndpointOwner:
    endpoint: McpEndpoint
    project: Project
    account: Account

    @property
    def limits(self) -> PlanLimits:
        return limits_for(self.account.plan, self.account.limit_overrides)


def parse_endpoint(body: dict[str, Any]) -> tuple[str, float]:
    known = {"slug", "rate_limit_per_second"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise invalid({field: "unknown field; expected slug, rate_limit_per_second" for field in unknown})
    slug = body.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise invalid({"slug": "3 to 63 lowercase letters, digits or hyphens, not starting or ending in '-'"})
    rate = body.get("rate_limit_per_second", DEFAULT_RATE)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.1 <= rate <= MAX_RATE:
        raise invalid({"rate_limit_per_second": f"must be a number from 0.1 to {MAX_RATE:g}"})
    return slug, float(rate)


async def set_endpoint(
    session: AsyncSession, account: Account, limits: PlanLimits, project: Project, body: dict[str, Any]
) -> McpEndpoint:
    slug, rate = parse_endpoint(body)
    require_plan(account, limits)
    taken = Conflict("This MCP endpoint slug is taken", {"slug": slug})
    other = await session.scalar(
        select(McpEndpoint.project_id).where(McpEndpoint.slug == slug, McpEndpoint.project_id != project.id)
    )
    if other is not None:
        raise taken
    endpoint = await session.get(McpEndpoint, project.id)
    if endpoint is None:
        endpoint = McpEndpoint(project_id=project.id, slug=slug, rate_limit_per_second=rate)
        session.add(endpoint)
    else:
        endpoint.slug, endpoint.rate_limit_per_second = slug, rate
    await flush_unique(session, taken)
    return endpoint


async def project_endpoint(session: AsyncSession, project: Project) -> McpEndpoint:
    endpoint = await session.get(McpEndpoint, project.id)
    if endpoint is None:
        raise not_found("MCP endpoint")
    return endpoint


async def endpoint_owner(session: AsyncSession, slug: str) -> EndpointOwner | None:
    row = (
        await session.execute(
            select(McpEndpoint, Project, Account)
            .join(Project, Project.id == McpEndpoint.project_id)
            .join(Account, Account.id == Project.account_id)
            .where(McpEndpoint.slug == slug)
        )
    ).first()
    if row is None:
        return None
    endpoint, project, account = row
    for loaded in (endpoint, project, account):
        session.expunge(loaded)
    return EndpointOwner(endpoint, project, account)


def endpoint_view(endpoint: McpEndpoint, base_url: str) -> dict[str, Any]:
    return {
        "project_id": endpoint.project_id,
        "slug": endpoint.slug,
        "url": f"{base_url}/v1/mcp/{endpoint.slug}",
        "rate_limit_per_second": endpoint.rate_limit_per_second,
        "key_scope": "mcp",
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


class EndpointLimiters:
    """One token bucket per dedicated endpoint, at its configured rate (kept in this process)."""

    def __init__(self) -> None:
        self._limiters: dict[str, RateLimiter] = {}

    def for_endpoint(self, endpoint: McpEndpoint) -> RateLimiter:
        limiter = self._limiters.get(endpoint.project_id)
        if limiter is None or limiter.rate != endpoint.rate_limit_per_second:
            limiter = RateLimiter(endpoint.rate_limit_per_second)
            self._limiters[endpoint.project_id] = limiter
        return limiter
