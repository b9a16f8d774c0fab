"""How tenancy objects are shown by the API and the CLI (secrets never, except once at creation)."""

from __future__ import annotations

from typing import Any

from kirem.kit.params import iso
from kirem.tenancy.egress import egress_view
from kirem.tenancy.live_checks import LiveCheck
from kirem.tenancy.models import Account, ApiKey, Channel, Project


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "plan": account.plan,
        "limit_overrides": account.limit_overrides or {},
        "created_at": iso(account.created_at),
    }


def project_view(project: Project, account: Account) -> dict[str, Any]:
    return {
        "id": project.id,
        "account_id": project.account_id,
        "name": project.name,
        "disabled_reason": project.disabled_reason,
        "egress": egress_view(project, account),
        "created_at": iso(project.created_at),
    }


def key_view(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    view = {
        "id": key.id,
        "project_id": key.project_id,
        "name": key.name,
        "mode": key.mode,
        "scope": key.scope,
        "prefix": key.prefix,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }
    if secret is not None:
        view["key"] = secret
    return view


def channel_view(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "project_id": channel.project_id,
        "kind": channel.kind,
        "name": channel.name,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "display_phone_number": channel.display_phone_number,
        "status": channel.status,
        "disabled_reason": channel.disabled_reason,
        "created_at": iso(channel.created_at),
    }


def connected_view(channel: Channel, check: LiveCheck | None) -> dict[str, Any]:
    """A channel just connected, with what Graph said about a live one (``verification``)."""
    return {**channel_view(channel), "verification": check.view() if check else None}
