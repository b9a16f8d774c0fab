"""How tenancy objects are shown by the API and the CLI (secrets never, except once at creation)."""

from __future__ import annotations

from typing import Any

from kirem.kit.views import view_of
from kirem.tenancy.egress import egress_view
from kirem.tenancy.live_checks import LiveCheck
from kirem.tenancy.models import Account, ApiKey, Channel, Project

ACCOUNT_FIELDS = "id name plan limit_overrides created_at"
PROJECT_FIELDS = "id account_id name disabled_reason egress created_at"
KEY_FIELDS = "id project_id name mode scope prefix created_at last_used_at revoked_at"
CHANNEL_FIELDS = (
    "id project_id kind name phone_number_id waba_id display_phone_number status disabled_reason created_at"
)


def account_view(account: Account) -> dict[str, Any]:
    return view_of(account, ACCOUNT_FIELDS, limit_overrides=account.limit_overrides or {})


def project_view(project: Project, account: Account) -> dict[str, Any]:
    return view_of(project, PROJECT_FIELDS, egress=egress_view(project, account))


def key_view(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    view = view_of(key, KEY_FIELDS)
    if secret is not None:
        view["key"] = secret
    return view


def channel_view(channel: Channel) -> dict[str, Any]:
    return view_of(channel, CHANNEL_FIELDS)


def connected_view(channel: Channel, check: LiveCheck | None) -> dict[str, Any]:
    """A channel just connected, with what Graph said about a live one (``verification``)."""
    return {**channel_view(channel), "verification": check.view() if check else None}
