"""Webhook targets of a project: create, list, read, change and delete, shared by the API and the CLI.

A target is a URL that receives the project's events (every type, or the ones in ``events``),
signed with the project's webhook secret, in the ``kirem`` or ``meta`` payload format, with the
target's own custom headers, timeout and retry policy. Every field is checked before anything is
stored, and all the problems of one request are reported together (400, ``errors`` by field).

Custom headers usually carry credentials: they are sealed at rest (bound to the project and target
ids) and every answer shows their names with the value :data:`HEADER_MASK`. Writing the mask back
as a value keeps the stored one, so a target read and written back loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.crypto import Sealer
from kirem.db.base import new_id, utcnow
from kirem.db.scope import for_project, get_owned
from kirem.kit.bodies import check_flag, unknown_fields
from kirem.kit.errors import found, invalid
from kirem.kit.paging import rows_of
from kirem.kit.views import view_of
from kirem.routing.conditions import EVENT_TYPES
from kirem.routing.models import DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_SECONDS, RoutingRule, WebhookTarget
from kirem.routing.target_settings import PAYLOAD_FORMATS, validate_schedule
from kirem.routing.urls import Resolver, check_target_url
from kirem.tenancy.limits import enforce_count_limit, enforce_enabling_limit
from kirem.tenancy.models import Project
from kirem.tenancy.service import Tenant

DESCRIPTION_MAX = 500
HEADERS_MAX = 20
HEADER_NAME_MAX = 256
HEADER_VALUE_MAX = 1000
TIMEOUT_RANGE = (1.0, 30.0)
MAX_ATTEMPTS_RANGE = (1, 20)
USER_DISABLED_REASON = "disabled by the user"
HEADER_MASK = "****"
"""Shown for every custom header value; sent back as a value, it keeps the stored one."""
HEADERS_AAD = "headers"

RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "user-agent",
        # hop-by-hop and framing headers: set by the HTTP client, would break the request
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
RESERVED_HEADER_PREFIXES = ("x-kirem-", "webhook-", "x-hub-signature")
"""Kirem's own signature and event headers: a target cannot override them."""
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

TARGET_FIELDS = (
    "url",
    "description",
    "payload_format",
    "events",
    "enabled",
    "headers",
    "timeout_seconds",
    "max_attempts",
    "retry_schedule",
)


def open_headers(sealer: Sealer, target: WebhookTarget) -> dict[str, str]:
    """The target's custom headers in clear: for the delivery sender only, never for an answer."""
    if not target.headers_sealed:
        return {}
    headers: dict[str, str] = json.loads(
        sealer.open(target.headers_sealed, target.project_id, target.id, HEADERS_AAD)
    )
    return headers


def _seal_headers(sealer: Sealer, target: WebhookTarget, headers: dict[str, str]) -> None:
    target.headers_sealed = (
        sealer.seal(json.dumps(headers), target.project_id, target.id, HEADERS_AAD) if headers else None
    )


TARGET_VIEW_FIELDS = " ".join(
    ("id", *TARGET_FIELDS, "disabled_reason", "disabled_at", "failing_since", "created_at", "updated_at")
)


def target_view(sealer: Sealer, target: WebhookTarget) -> dict[str, Any]:
    retry_schedule = target.retry_schedule
    return view_of(
        target,
        TARGET_VIEW_FIELDS,
        events=list(target.events or []),
        headers={name: HEADER_MASK for name in open_headers(sealer, target)},
        retry_schedule=list(retry_schedule) if retry_schedule is not None else None,
    )


# Validation ----------------------------------------------------------------------------------


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_headers(raw: object, errors: dict[str, str], stored: dict[str, str]) -> dict[str, str]:
    """Custom headers: at most 20, token names, printable values, none of Kirem's own.

    A value equal to :data:`HEADER_MASK` keeps the value ``stored`` under that name (any case).
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors["headers"] = "must be an object of header names to string values"
        return {}
    if len(raw) > HEADERS_MAX:
        errors["headers"] = f"at most {HEADERS_MAX} headers"
        return {}
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in raw.items():
        path = f"headers.{name}"
        lower = name.lower()
        if not name or len(name) > HEADER_NAME_MAX or not set(name) <= _TOKEN_CHARS:
            errors[path] = (
                f"not a valid header name: 1 to {HEADER_NAME_MAX} letters, digits or !#$%&'*+-.^_`|~"
            )
        elif lower in RESERVED_HEADERS or lower.startswith(RESERVED_HEADER_PREFIXES):
            errors[path] = "is reserved: Kirem sets this header itself"
        elif lower in seen:
            errors[path] = "is given twice (header names are case-insensitive)"
        elif not isinstance(value, str):
            errors[path] = "the value must be a string"
        elif len(value) > HEADER_VALUE_MAX:
            errors[path] = f"the value must be at most {HEADER_VALUE_MAX} characters"
        elif any(not (ch == "\t" or " " <= ch <= "~") for ch in value):
            errors[path] = "the value must be printable ASCII, without line breaks"
        elif value == HEADER_MASK:
            kept = next((v for k, v in stored.items() if k.lower() == lower), None)
            if kept is None:
                errors[path] = f"{HEADER_MASK!r} keeps a stored value, but this target has no header {name!r}"
            else:
                headers[name] = kept
        else:
            headers[name] = value
        seen.add(lower)
    return headers


def _check_events(raw: object, errors: dict[str, str]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors["events"] = "must be a list of event types (empty for every event)"
        return []
    events: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str) or item not in EVENT_TYPES:
            errors[f"events[{index}]"] = f"unknown event type; expected one of {', '.join(EVENT_TYPES)}"
        elif item not in events:
            events.append(item)
    return events


async def _target_fields(
    body: dict[str, Any],
    *,
    creating: bool,
    production: bool,
    resolve: Resolver | None,
    stored_headers: dict[str, str],
) -> dict[str, Any]:
    """The columns to set from ``body``; raises 400 with every field's problem at once.

    ``null`` resets an optional field to its default (``events`` null = every event). ``headers``
    comes back in clear, for the caller to seal.
    """
    errors = unknown_fields(body, TARGET_FIELDS)
    values: dict[str, Any] = {}
    if creating or "url" in body:
        url = body.get("url")
        problem = await check_target_url(url, production=production, resolve=resolve)
        if problem is not None:
            errors["url"] = problem
        else:
            values["url"] = url
    if "description" in body:
        description = body["description"]
        if description is None:
            values["description"] = ""
        elif not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            errors["description"] = f"must be a string of at most {DESCRIPTION_MAX} characters"
        else:
            values["description"] = description
    if "payload_format" in body:
        fmt = body["payload_format"]
        if fmt is None:
            values["payload_format"] = "kirem"
        elif fmt not in PAYLOAD_FORMATS:
            errors["payload_format"] = f"must be one of {', '.join(PAYLOAD_FORMATS)}"
        else:
            values["payload_format"] = fmt
    if "events" in body:
        values["events"] = _check_events(body["events"], errors)
    check_flag(body, "enabled", values, errors)
    if "headers" in body:
        values["headers"] = check_headers(body["headers"], errors, stored_headers)
    if "timeout_seconds" in body:
        timeout = body["timeout_seconds"]
        low, high = TIMEOUT_RANGE
        if timeout is None:
            values["timeout_seconds"] = DEFAULT_TIMEOUT_SECONDS
        elif not _number(timeout) or not low <= timeout <= high:
            errors["timeout_seconds"] = f"must be a number of seconds from {low:g} to {high:g}"
        else:
            values["timeout_seconds"] = float(timeout)
    if "max_attempts" in body:
        attempts = body["max_attempts"]
        low_n, high_n = MAX_ATTEMPTS_RANGE
        if attempts is None:
            values["max_attempts"] = DEFAULT_MAX_ATTEMPTS
        elif not isinstance(attempts, int) or isinstance(attempts, bool) or not low_n <= attempts <= high_n:
            errors["max_attempts"] = f"must be an integer from {low_n} to {high_n}"
        else:
            values["max_attempts"] = attempts
    if "retry_schedule" in body:
        if body["retry_schedule"] is None:
            values["retry_schedule"] = None
        else:
            schedule, problem = validate_schedule(body["retry_schedule"])
            if problem is not None or schedule is None:
                errors["retry_schedule"] = problem or "invalid retry schedule"
            else:
                values["retry_schedule"] = list(schedule)
    if errors:
        raise invalid(errors)
    return values


# Service -------------------------------------------------------------------------------------


Counted = TypeVar("Counted", WebhookTarget, RoutingRule)


@dataclass(frozen=True)
class PlanCounted(Generic[Counted]):
    """A project's targets or rules: created within the plan's limit, listed and looked up.

    ``feature`` names the limit (a :class:`~kirem.tenancy.plans.PlanLimits` field) and its refusal.
    """

    model: type[Counted]
    feature: Literal["webhook_targets", "routing_rules"]
    noun: str
    """How the plan's refusal counts them (``webhook target(s)``)."""
    what: str
    """How a lookup's 404 names one (``Webhook target``)."""

    async def add(self, session: AsyncSession, tenant: Tenant, row: Counted) -> Counted:
        """Add ``row`` (the caller commits); 403 when the project already has as many as its plan allows.

        Under a limit the project stays locked until the commit: concurrent creates cannot pass it.
        """
        count = for_project(self.model, tenant.project_id).with_only_columns(func.count())
        await enforce_count_limit(
            session,
            Project,
            tenant.project_id,
            count,
            limit=self._limit(tenant),
            feature=self.feature,
            plan=tenant.account.plan,
            noun=self.noun,
        )
        session.add(row)
        await session.flush()
        return row

    async def check_enabling(self, session: AsyncSession, tenant: Tenant) -> None:
        """403 when the project already has as many enabled as its plan allows."""
        await enforce_enabling_limit(
            session,
            self.model,
            tenant.project_id,
            limit=self._limit(tenant),
            feature=self.feature,
            plan=tenant.account.plan,
            noun=f"enabled {self.noun}",
        )

    async def listed(self, session: AsyncSession, project_id: str) -> list[Counted]:
        """The project's rows, oldest first."""
        model = self.model
        return await rows_of(session, for_project(model, project_id).order_by(model.created_at, model.id))

    async def get(self, session: AsyncSession, project_id: str, row_id: str) -> Counted:
        return found(await get_owned(session, self.model, row_id, project_id), self.what)

    def _limit(self, tenant: Tenant) -> int | None:
        limit: int | None = getattr(tenant.limits, self.feature)
        return limit


TARGETS = PlanCounted(WebhookTarget, "webhook_targets", "webhook target(s)", "Webhook target")
RULES = PlanCounted(RoutingRule, "routing_rules", "routing rule(s)", "Routing rule")


async def create_target(
    session: AsyncSession,
    tenant: Tenant,
    body: dict[str, Any],
    *,
    sealer: Sealer,
    production: bool,
    resolve: Resolver | None = None,
) -> WebhookTarget:
    """A new target (the caller commits); 403 past the plan's ``webhook_targets``, 400 on bad fields."""
    values = await _target_fields(
        body, creating=True, production=production, resolve=resolve, stored_headers={}
    )
    target = WebhookTarget(
        id=new_id("tgt"),
        project_id=tenant.project_id,
        description="",
        payload_format="kirem",
        events=[],
        enabled=True,
        headers_sealed=None,
        timeout_seconds=DEFAULT_TIMEOUT_SECONDS,
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        retry_schedule=None,
    )
    _apply(target, values, sealer)
    return await TARGETS.add(session, tenant, target)


list_targets = TARGETS.listed
get_target = TARGETS.get


async def update_target(
    session: AsyncSession,
    tenant: Tenant,
    target_id: str,
    body: dict[str, Any],
    *,
    sealer: Sealer,
    production: bool,
    resolve: Resolver | None = None,
) -> WebhookTarget:
    """Change the fields in ``body`` (the caller commits).

    ``enabled: true`` on a disabled target (by the user, a 410 answer or 5 days of failures) starts
    it afresh: ``disabled_reason``, ``disabled_at`` and ``failing_since`` are cleared. Events kept
    as ``skipped`` while it was disabled are not sent by this; replay them.
    """
    target = await get_target(session, tenant.project_id, target_id)
    stored = open_headers(sealer, target) if "headers" in body else {}
    values = await _target_fields(
        body, creating=False, production=production, resolve=resolve, stored_headers=stored
    )
    await _check_enabling(session, tenant, target, values.get("enabled"))
    _apply(target, values, sealer)
    await session.flush()
    return target


async def _check_enabling(
    session: AsyncSession, tenant: Tenant, target: WebhookTarget, enabled: object
) -> None:
    if enabled is True and not target.enabled:
        await TARGETS.check_enabling(session, tenant)


def _apply(target: WebhookTarget, values: dict[str, Any], sealer: Sealer | None = None) -> None:
    """Set ``values`` on ``target``; custom headers (in clear) are sealed with ``sealer``."""
    enabled = values.pop("enabled", None)
    headers = values.pop("headers", None)
    if headers is not None:
        if sealer is None:  # pragma: no cover - a programming error
            raise TypeError("sealing custom headers needs the sealer")
        _seal_headers(sealer, target, headers)
    for key, value in values.items():
        setattr(target, key, value)
    if enabled is not None:
        target.disabled_by_plan = False
    if enabled is True and not target.enabled:
        target.enabled = True
        target.disabled_reason = None
        target.disabled_at = None
        target.failing_since = None
    elif enabled is False and target.enabled is not False:
        target.enabled = False
        target.disabled_reason = USER_DISABLED_REASON
        target.disabled_at = utcnow()


async def set_target_enabled(
    session: AsyncSession, tenant: Tenant, target_id: str, enabled: bool
) -> WebhookTarget:
    target = await get_target(session, tenant.project_id, target_id)
    await _check_enabling(session, tenant, target, enabled)
    _apply(target, {"enabled": enabled})
    await session.flush()
    return target


async def delete_target(session: AsyncSession, tenant: Tenant, target_id: str) -> None:
    """Delete the target, its deliveries and their attempt logs, and take it out of every rule.

    A rule left with no target is kept (so its conditions are not lost) but selects nothing until
    a target is added to it again.
    """
    target = await get_target(session, tenant.project_id, target_id)
    rules = (await session.execute(for_project(RoutingRule, tenant.project_id))).scalars()
    for rule in rules:
        if target.id in (rule.target_ids or []):
            rule.target_ids = [t for t in rule.target_ids if t != target.id]
    await session.delete(target)
    await session.flush()
