"""Creating an API key from a request's fields (the management API and the dashboard)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import invalid
from kirem.enterprise.mcp_endpoints import require_plan
from kirem.tenancy import service
from kirem.tenancy.models import Account, ApiKey, Project


async def create_key(
    session: AsyncSession, account: Account, project: Project, body: dict[str, Any]
) -> tuple[ApiKey, str]:
    """A new key from ``name`` (default ``default``), ``mode`` and ``scope``; the secret is returned once."""
    name = body.get("name", "default")
    if not isinstance(name, str) or not name or len(name) > 200:
        raise invalid({"name": "must be a string of 1 to 200 characters"})
    scope = str(body.get("scope", "api"))
    if scope == "mcp":
        require_plan(account, service.account_limits(account))
    return await service.mint_api_key(session, project, str(body.get("mode", "live")), name, scope)
