"""Message templates: creation, Meta-style review, listing, deletion, and the checks done on send.

Review: a new template is PENDING; ``sandbox_review_seconds`` later it becomes REJECTED when its
name starts with ``reject_`` and APPROVED otherwise, and a ``message_template_status_update``
webhook is written to the outbox in the same transaction. Reviews that fell due while nobody was
watching (a restart) are applied when the templates are next read, and the start of the app
schedules the ones still pending.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from starlette.datastructures import URL

from kirem.kit.nulls import without_nulls
from kirem.kit.ttl_cache import TtlCache
from kirem.meta.fields import requested_fields, select_fields
from kirem.meta.templates import parameter_format_of, variable_count
from kirem.sandbox.errors import MetaError, invalid_parameter, not_one_of, required_parameter
from kirem.sandbox.ids import numeric_id
from kirem.sandbox.lookups import FoundTemplate
from kirem.sandbox.models import SandboxTemplate
from kirem.sandbox.outbox import enqueue
from kirem.sandbox.webhooks import envelope

if TYPE_CHECKING:
    from kirem.sandbox.runtime import SandboxRuntime

PENDING, APPROVED, REJECTED = "PENDING", "APPROVED", "REJECTED"
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
REJECT_PREFIX = "reject_"
REJECTED_REASON = "INVALID_FORMAT"
STATUS_UPDATE_FIELD = "message_template_status_update"
MEDIA_HEADER_FORMATS = {"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}
DEFAULT_PAGE_SIZE = 25
TEMPLATE_LIMIT = 250
"""Meta's ``message_template_limit`` of an unverified business."""
MAX_PAGE_SIZE = 1000
_DIGITS = re.compile(r"[0-9]{1,9}", re.ASCII)
"""Limits and cursors: ASCII digits only (``int()`` would take ``٣``), never beyond a page index."""

NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$")

HELLO_WORLD_NAME = "hello_world"
HELLO_WORLD_LANGUAGE = "en_US"
HELLO_WORLD_CATEGORY = "MARKETING"
HELLO_WORLD_COMPONENTS: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
    {
        "type": "BODY",
        "text": "Welcome and congratulations!! This message demonstrates your ability to send a message "
        "notification from WhatsApp Business Platform’s Cloud API. Thank you for taking the time to "
        "test with us.",
    },
    {"type": "FOOTER", "text": "WhatsApp Business API Team"},
]
"""As in the OpenAPI document's "Get template by name" example."""


def hello_world_template(waba_id: str, now: datetime) -> SandboxTemplate:
    return SandboxTemplate(
        id=numeric_id(16),
        waba_id=waba_id,
        name=HELLO_WORLD_NAME,
        language=HELLO_WORLD_LANGUAGE,
        category=HELLO_WORLD_CATEGORY,
        components=[dict(c) for c in HELLO_WORLD_COMPONENTS],
        status=APPROVED,
        created_at=now,
    )


def _normalise_components(components: list[Any]) -> list[dict[str, Any]]:
    result = []
    for component in components:
        item = dict(component)
        item["type"] = str(item["type"]).upper()
        if isinstance(item.get("format"), str):
            item["format"] = item["format"].upper()
        result.append(item)
    return result


def _parse_create(body: Mapping[str, Any]) -> tuple[str, str, str, list[dict[str, Any]]]:
    body = without_nulls(dict(body))
    name = body.get("name")
    if name is None:
        raise required_parameter("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise invalid_parameter(
            "Template name can only contain lowercase letters, numbers and underscores (1 to 512 characters)."
        )
    language = body.get("language")
    if language is None:
        raise required_parameter("language")
    if not isinstance(language, str) or not LANGUAGE_RE.match(language):
        raise invalid_parameter(f"Invalid language code: {language!r}")
    category = body.get("category")
    if category is None:
        raise required_parameter("category")
    if not isinstance(category, str) or category.upper() not in CATEGORIES:
        raise not_one_of("category", CATEGORIES, category)
    components = body.get("components")
    if components is None:
        raise required_parameter("components")
    if not isinstance(components, list) or not all(
        isinstance(c, dict) and isinstance(c.get("type"), str) for c in components
    ):
        raise invalid_parameter("components must be a list of objects, each with a type.")
    normalised = _normalise_components(components)
    if not any(c["type"] == "BODY" for c in normalised):
        raise invalid_parameter("A template needs a BODY component.")
    return name, language, category.upper(), normalised


async def create_template(
    session: AsyncSession, *, waba_id: str, body: Mapping[str, Any], now: datetime, review_seconds: float
) -> SandboxTemplate:
    name, language, category, components = _parse_create(body)
    exists = await session.scalar(
        select(SandboxTemplate.id).where(
            SandboxTemplate.waba_id == waba_id,
            SandboxTemplate.name == name,
            SandboxTemplate.language == language,
        )
    )
    if exists is not None:
        raise _duplicate(name, language)
    template = SandboxTemplate(
        id=numeric_id(16),
        waba_id=waba_id,
        name=name,
        language=language,
        category=category,
        components=components,
        status=PENDING,
        review_at=now + timedelta(seconds=max(review_seconds, 0.0)),
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(template)
    except IntegrityError:
        raise _duplicate(name, language) from None
    return template


def _duplicate(name: str, language: str) -> MetaError:
    return MetaError(
        400,
        100,
        f'Message template "{name}" already exists in {language}.',
        subcode=2388024,
        is_transient=False,
        user_title="Content in This Language Already Exists",
        user_msg=f'There is already {language} content for the template "{name}". '
        "Create a new template or use another language.",
    )


def review_outcome(name: str) -> tuple[str, str | None]:
    return (REJECTED, REJECTED_REASON) if name.startswith(REJECT_PREFIX) else (APPROVED, None)


async def apply_due_reviews(
    session: AsyncSession, now: datetime, *, waba_id: str | None = None, template_id: str | None = None
) -> None:
    """Finish every review due by ``now``, owing Kirem a ``message_template_status_update`` for each."""
    query = select(SandboxTemplate).where(SandboxTemplate.status == PENDING, SandboxTemplate.review_at <= now)
    if waba_id is not None:
        query = query.where(SandboxTemplate.waba_id == waba_id)
    if template_id is not None:
        query = query.where(SandboxTemplate.id == template_id)
    await _finish_reviews(session, (await session.scalars(query)).all(), now)


async def _finish_reviews(session: AsyncSession, templates: Sequence[SandboxTemplate], now: datetime) -> None:
    for template in templates:
        status, reason = review_outcome(template.name)
        # The status condition makes the review happen once even if a timer and a read race.
        result = await session.execute(
            update(SandboxTemplate)
            .where(SandboxTemplate.id == template.id, SandboxTemplate.status == PENDING)
            .values(status=status, rejected_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            template.status = status
            template.rejected_reason = reason
            enqueue(
                session, lane=f"template:{template.id}", payload=status_update_payload(template, now), now=now
            )


def status_update_payload(template: SandboxTemplate, now: datetime) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event": template.status,
        "message_template_id": int(template.id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": template.rejected_reason or "NONE",
        "message_template_category": template.category,
    }
    return envelope(template.waba_id, value, STATUS_UPDATE_FIELD, time=int(now.timestamp()))


def schedule_review(runtime: SandboxRuntime, template_id: str, review_at: datetime) -> None:
    runtime.spawn(_review_when_due(runtime, template_id, review_at), name=f"sandbox-review-{template_id}")


async def _review_when_due(runtime: SandboxRuntime, template_id: str, review_at: datetime) -> None:
    delay = (review_at - runtime.now()).total_seconds()
    await asyncio.sleep(max(delay, 0.0))
    async with runtime.database.transaction() as session:
        await apply_due_reviews(session, max(runtime.now(), review_at), template_id=template_id)
    runtime.outbox.wake()


def resume_pending_reviews(runtime: SandboxRuntime) -> None:
    """Schedule the reviews of templates left PENDING by a previous run."""

    async def resume() -> None:
        async with runtime.database.session() as session:
            rows = (
                await session.execute(
                    select(SandboxTemplate.id, SandboxTemplate.review_at).where(
                        SandboxTemplate.status == PENDING
                    )
                )
            ).all()
        for template_id, review_at in rows:
            schedule_review(runtime, template_id, review_at or runtime.now())

    runtime.spawn(resume(), name="sandbox-resume-reviews")


def graph_template(template: SandboxTemplate) -> dict[str, Any]:
    """A template as Meta lists it, with every field Meta always returns (clients index them)."""
    data: dict[str, Any] = {
        "name": template.name,
        "parameter_format": parameter_format_of(template.components),
        "components": template.components,
        "language": template.language,
        "status": template.status,
        "category": template.category,
        "id": template.id,
    }
    if template.status == REJECTED:
        data["rejected_reason"] = template.rejected_reason or REJECTED_REASON
    return data


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_parameter(f"Invalid cursor: {cursor!r}") from None
    if not _DIGITS.fullmatch(decoded):
        raise invalid_parameter(f"Invalid cursor: {cursor!r}")
    return int(decoded)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


async def list_templates(
    session: AsyncSession, *, waba_id: str, params: Mapping[str, str], url: URL
) -> dict[str, Any]:
    """One page of the WABA's templates, newest first, in Graph's ``{data, paging}`` shape.

    ``name`` matches part of a name (case-insensitive); ``status``, ``category`` and ``language``
    take one value or a comma-separated list; ``fields`` selects the fields of each template and
    ``summary`` (``true`` or a list of its fields) adds Meta's counts.
    """
    raw_limit = params.get("limit", str(DEFAULT_PAGE_SIZE))
    if not _DIGITS.fullmatch(raw_limit):
        raise invalid_parameter("limit must be an integer.")
    limit = int(raw_limit)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise invalid_parameter(f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    matching = [SandboxTemplate.waba_id == waba_id]
    if name := params.get("name"):
        matching.append(SandboxTemplate.name.contains(name.lower(), autoescape=True))
    if statuses := _split(params.get("status")):
        matching.append(SandboxTemplate.status.in_([s.upper() for s in statuses]))
    if categories := _split(params.get("category")):
        matching.append(SandboxTemplate.category.in_([c.upper() for c in categories]))
    if languages := _split(params.get("language")):
        matching.append(SandboxTemplate.language.in_(languages))
    rows, count = await _templates_and_count(session, waba_id, matching)

    if after := params.get("after"):
        start = _decode_cursor(after) + 1
        end = min(start + limit, len(rows))
    elif before := params.get("before"):
        end = min(_decode_cursor(before), len(rows))
        start = max(end - limit, 0)
    else:
        start, end = 0, min(limit, len(rows))
    page = rows[start:end]
    fields = requested_fields(params.get("fields"))
    result: dict[str, Any] = {"data": [select_fields(graph_template(t), fields) for t in page]}
    if page:
        paging: dict[str, Any] = {
            "cursors": {"before": _encode_cursor(start), "after": _encode_cursor(start + len(page) - 1)}
        }
        if end < len(rows):
            paging["next"] = str(
                url.remove_query_params("before").include_query_params(after=_encode_cursor(end - 1))
            )
        if start > 0:
            paging["previous"] = str(
                url.remove_query_params("after").include_query_params(before=_encode_cursor(start))
            )
        result["paging"] = paging
    if summary := params.get("summary"):
        result["summary"] = _summary(summary, total=len(rows), count=count)
    return result


async def _templates_and_count(
    session: AsyncSession, waba_id: str, matching: Sequence[ColumnElement[bool]]
) -> tuple[list[SandboxTemplate], int]:
    """The ``matching`` templates, newest first, and how many the WABA has, from one statement (one
    snapshot): the count's one row outer-joined to the templates, so it is read even when none match."""
    count = select(func.count().label("templates")).where(SandboxTemplate.waba_id == waba_id).subquery()
    query = (
        select(SandboxTemplate, count.c.templates)
        .select_from(count)
        .outerjoin(SandboxTemplate, and_(*matching))
        .order_by(SandboxTemplate.created_at.desc(), SandboxTemplate.id.desc())
    )
    found = (await session.execute(query)).all()
    return [template for template, _ in found if template is not None], int(found[0][1])


def _summary(wanted: str, *, total: int, count: int) -> dict[str, Any]:
    """Meta's ``summary`` of a template list: ``summary=true`` is the total count alone."""
    known = {
        "total_count": total,
        "message_template_count": count,
        "message_template_limit": TEMPLATE_LIMIT,
        "are_translations_complete": True,
    }
    names = ["total_count"] if wanted.strip().lower() == "true" else _split(wanted)
    return {name: known[name] for name in names if name in known}


async def delete_templates(
    session: AsyncSession, *, waba_id: str, name: str | None, hsm_id: str | None
) -> None:
    """Delete a template in every language by name, or one of them by ``hsm_id``."""
    if not name:
        raise required_parameter("name")
    query = select(SandboxTemplate).where(SandboxTemplate.waba_id == waba_id, SandboxTemplate.name == name)
    if hsm_id:
        query = query.where(SandboxTemplate.id == hsm_id)
    templates = (await session.scalars(query)).all()
    if not templates:
        raise MetaError(
            404,
            100,
            "(#100) Invalid parameter",
            details=f'Message template "{name}"{f" with id {hsm_id}" if hsm_id else ""} was not found.',
            user_title="Message template not found",
            user_msg=f'There is no message template named "{name}" in this WhatsApp Business Account.',
        )
    for template in templates:
        await session.delete(template)


async def find_for_send(
    session: AsyncSession,
    now: datetime,
    *,
    waba_id: str,
    name: str,
    language: str,
    cache: TtlCache[FoundTemplate] | None = None,
) -> SandboxTemplate:
    """The template a send names, after the WABA's reviews due by ``now`` (as :func:`apply_due_reviews`
    finishes them): one query finds both, and the WABA's next review.

    With ``cache`` (:mod:`kirem.sandbox.lookups`) the template may be a detached copy, kept until the
    WABA's next review falls due: read it only."""
    key = (waba_id, name, language)

    async def lookup() -> FoundTemplate | None:
        pending = SandboxTemplate.status == PENDING
        due = and_(pending, SandboxTemplate.review_at <= now)
        named = and_(SandboxTemplate.name == name, SandboxTemplate.language == language)
        rows = (
            await session.execute(
                select(SandboxTemplate, due.label("due")).where(
                    SandboxTemplate.waba_id == waba_id, or_(pending, named)
                )
            )
        ).all()
        await _finish_reviews(session, [row for row, is_due in rows if is_due], now)
        found = next((row for row, _ in rows if row.name == name and row.language == language), None)
        if found is None:
            return None
        if cache is not None:
            session.expunge(found)
        reviews = [
            row.review_at
            for row, is_due in rows
            if row.status == PENDING and not is_due and row.review_at is not None
        ]
        return FoundTemplate(found, min(reviews, default=None))

    if cache is None:
        entry = await lookup()
    else:
        current = cache.get(key)
        entry = await cache.load(key, lookup, cached=current is not None and current.current(now))
    if entry is None:
        raise MetaError(
            404,
            132001,
            "(#132001) Template name does not exist in the translation",
            details=f"template name ({name}) does not exist in {language}",
        )
    template = entry.template
    if template.status != APPROVED:
        raise MetaError(
            400,
            132000,
            "(#132000) Template status is not APPROVED.",
            subcode=2490001,
            details=f"template name ({name}) in {language} has status {template.status}",
        )
    return template


def expected_parameters(template: SandboxTemplate) -> dict[str, int | None]:
    """Parameters a send must give per component; ``None`` where the sandbox does not check."""
    expected: dict[str, int | None] = {"header": 0, "body": 0}
    for component in template.components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            if str(component.get("format", "TEXT")).upper() in MEDIA_HEADER_FORMATS:
                expected["header"] = None
            else:
                expected["header"] = variable_count(str(component.get("text", "")))
        elif kind == "BODY":
            text = component.get("text")
            if text is None and template.category == "AUTHENTICATION":
                expected["body"] = 1  # the one-time code
            else:
                expected["body"] = variable_count(str(text or ""))
    return expected


def check_send_parameters(template: SandboxTemplate, components: Any) -> None:
    given = {"header": 0, "body": 0}
    if isinstance(components, list):
        for component in components:
            if not isinstance(component, dict):
                continue
            kind = str(component.get("type", "")).lower()
            if kind in given:
                parameters = component.get("parameters")
                given[kind] = len(parameters) if isinstance(parameters, list) else 0
    for kind, expected in expected_parameters(template).items():
        if expected is not None and given[kind] != expected:
            raise MetaError(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                details=f"{kind}: number of localizable_params ({given[kind]}) does not match the expected "
                f"number of params ({expected})",
            )
