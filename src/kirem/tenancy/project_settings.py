"""A project's settings changed from a request (the management API and the dashboard)."""

from __future__ import annotations

from kirem.kit.errors import invalid
from kirem.tenancy import service
from kirem.tenancy.allowlist import parse_networks
from kirem.tenancy.limits import plan_error
from kirem.tenancy.models import Account, Project


def set_ip_allowlist(account: Account, project: Project, raw: object) -> list[str]:
    """Replace the project's IP allowlist with ``raw`` (a list of CIDRs; empty turns it off).

    Refused with field errors for entries that are not CIDRs, and on plans without allowlists.
    Returns the list as stored (normalised, sorted); the caller commits.
    """
    cidrs, errors = parse_networks(raw)
    if errors:
        raise invalid(errors)
    if cidrs and not service.account_limits(account).ip_allowlist:
        raise plan_error("ip_allowlist", f"IP allowlists are not part of the {account.plan} plan.")
    project.ip_allowlist = cidrs
    return cidrs
