"""One step from nothing to a working project: account, project, a fresh key and a sandbox channel."""

from __future__ import annotations

from typing import Any

from kirem.context import AppContext
from kirem.tenancy.channels import create_sandbox_channel, first_sandbox_channel
from kirem.tenancy.service import (
    check_plan_name,
    create_account,
    create_project,
    find_account,
    find_project,
    mint_account_token,
    mint_api_key,
    webhook_secret,
)


async def bootstrap(ctx: AppContext, account_name: str, project_name: str, plan: str) -> dict[str, Any]:
    """Create what is absent, mint a new API key and account token, and return them all once.

    With the sandbox off (production) no channel is created: connect a live number afterwards, and
    the channel fields are ``null``.
    """
    check_plan_name(plan)
    async with ctx.db.transaction() as session:
        account = await find_account(session, account_name)
        if account is None:
            account = await create_account(session, account_name, plan)
        elif account.plan != plan:
            account.plan = plan
        project = await find_project(session, account, project_name)
        if project is None:
            project = await create_project(session, ctx.sealer, account, project_name)
        channel = await first_sandbox_channel(session, project)
        if channel is None and ctx.settings.sandbox_enabled:
            channel = await create_sandbox_channel(ctx, session, account, project)
        key, secret = await mint_api_key(session, project, "live")
        account_token = await mint_account_token(session, account)
        return {
            "account_id": account.id,
            "account_token": account_token,
            "plan": account.plan,
            "project_id": project.id,
            "api_key": secret,
            "api_key_id": key.id,
            "channel_id": channel.id if channel else None,
            "phone_number_id": channel.phone_number_id if channel else None,
            "waba_id": channel.waba_id if channel else None,
            "display_phone_number": channel.display_phone_number if channel else None,
            "webhook_secret": webhook_secret(ctx.sealer, project),
        }
