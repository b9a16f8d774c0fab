"""Webhook pages: targets (create, edit, enable, delete, test), rules with the condition editor, the
rule tester, and secret rotation. Every change goes through the /v1 routing services."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from kirem.api.responses import ApiError
from kirem.dashboard.auth import PageNotFound, ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import field_errors, form_status
from kirem.dashboard.hooks_forms import (
    conditions_body,
    conditions_form,
    echo_target_form,
    merge_field_errors,
    target_body,
    target_form,
)
from kirem.dashboard.i18n import translator
from kirem.dashboard.nav import project_url
from kirem.dashboard.web import language, redirect, render
from kirem.db.base import utcnow
from kirem.db.scope import for_project
from kirem.delivery.secret import rotate_webhook_secret
from kirem.delivery.target_probe import send_test_event
from kirem.inbound.models import Event
from kirem.kit.params import iso
from kirem.routing import rules, targets
from kirem.routing.conditions import EVENT_TYPES, MESSAGE_TYPES
from kirem.routing.target_settings import PAYLOAD_FORMATS
from kirem.tenancy.models import Channel

router = APIRouter()

STAFF = require_role("owner", "developer")
BASE = "/dashboard/p/{project_id}/webhooks"
T = TypeVar("T")
RECENT_EVENTS = 20
"""How many recent events the rule tester offers to pick from."""


def _errors(exc: ApiError) -> dict[str, str]:
    return merge_field_errors(field_errors(exc))


def _production(access: ProjectAccess) -> bool:
    return access.ctx.settings.env == "production"


async def _form(request: Request) -> FormData:
    return await request.form()


def _texts(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _picked(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


async def _lookup(call: Awaitable[T]) -> T:
    """A service lookup; its 404 becomes the dashboard's 404 page."""
    try:
        return await call
    except ApiError as exc:
        if exc.status == 404:
            raise PageNotFound() from exc
        raise


# The webhooks page ---------------------------------------------------------------------------


@router.get("/dashboard/p/{project_id}/webhooks")
async def webhooks_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    session, sealer = access.session, access.ctx.sealer
    target_rows = await targets.list_targets(session, access.project.id)
    rule_rows = await rules.list_rules(session, access.project.id)
    urls = {target.id: target.url for target in target_rows}
    project = access.project
    return render(
        request,
        "hooks/webhooks.html",
        {
            "targets": [targets.target_view(sealer, target) for target in target_rows],
            "rules": [rules.rule_view(rule) for rule in rule_rows],
            "target_urls": urls,
            "notice": request.query_params.get("notice"),
            "previous_secret_expires_at": iso(project.previous_secret_expires_at)
            if project.previous_secret_expires_at and project.previous_secret_expires_at > utcnow()
            else None,
        },
    )


def _back(access: ProjectAccess, notice: str) -> Response:
    return redirect(f"{project_url(access.project.id, 'webhooks')}?notice={notice}")


# Targets -------------------------------------------------------------------------------------


def _form_page(
    request: Request, template: str, errors: dict[str, str] | None, context: dict[str, Any]
) -> Response:
    """A form page; shown again with errors it answers ``FORM_AGAIN``."""
    return render(request, template, {**context, "errors": errors or {}}, form_status(errors))


def _target_page(
    request: Request,
    values: dict[str, Any],
    *,
    target: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    context = {
        "values": values,
        "target": target,
        "event_types": EVENT_TYPES,
        "payload_formats": PAYLOAD_FORMATS,
    }
    return _form_page(request, "hooks/target_form.html", errors, context)


@router.get("/dashboard/p/{project_id}/webhooks/targets/new")
async def new_target(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return _target_page(request, target_form(None))


@router.post("/dashboard/p/{project_id}/webhooks/targets", dependencies=[Depends(check_csrf)])
async def create_target(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await _form(request)
    fields, events = _texts(form), _picked(form, "events")
    try:
        target = await targets.create_target(
            access.session,
            access.tenant,
            target_body(fields, events),
            sealer=access.ctx.sealer,
            production=_production(access),
        )
        await access.session.commit()
    except ApiError as exc:
        return _target_page(request, echo_target_form(fields, events), errors=_errors(exc))
    return redirect(f"{project_url(access.project.id, 'webhooks')}/targets/{target.id}?notice=created")


@router.get("/dashboard/p/{project_id}/webhooks/targets/{target_id}")
async def edit_target(request: Request, target_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    target = await _lookup(targets.get_target(access.session, access.project.id, target_id))
    view = targets.target_view(access.ctx.sealer, target)
    return _target_page(request, target_form(view), target=view)


@router.post("/dashboard/p/{project_id}/webhooks/targets/{target_id}", dependencies=[Depends(check_csrf)])
async def update_target(request: Request, target_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    target = await _lookup(targets.get_target(access.session, access.project.id, target_id))
    view = targets.target_view(access.ctx.sealer, target)
    form = await _form(request)
    fields, events = _texts(form), _picked(form, "events")
    try:
        await targets.update_target(
            access.session,
            access.tenant,
            target_id,
            target_body(fields, events),
            sealer=access.ctx.sealer,
            production=_production(access),
        )
        await access.session.commit()
    except ApiError as exc:
        values = echo_target_form(fields, events)
        return _target_page(request, values, target=view, errors=_errors(exc))
    return redirect(f"{project_url(access.project.id, 'webhooks')}/targets/{target_id}?notice=saved")


@router.post(
    "/dashboard/p/{project_id}/webhooks/targets/{target_id}/enabled", dependencies=[Depends(check_csrf)]
)
async def toggle_target(request: Request, target_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await _form(request)
    enabled = form.get("enabled") == "true"
    try:
        await _lookup(targets.set_target_enabled(access.session, access.tenant, target_id, enabled))
        await access.session.commit()
    except ApiError as exc:
        return render(request, "hooks/refused.html", {"message": exc.message}, exc.status)
    return _back(access, "enabled" if enabled else "disabled")


@router.post(
    "/dashboard/p/{project_id}/webhooks/targets/{target_id}/delete", dependencies=[Depends(check_csrf)]
)
async def delete_target(request: Request, target_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    await _lookup(targets.delete_target(access.session, access.tenant, target_id))
    await access.session.commit()
    return _back(access, "target_deleted")


@router.post(
    "/dashboard/p/{project_id}/webhooks/targets/{target_id}/test", dependencies=[Depends(check_csrf)]
)
async def test_target(request: Request, target_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    target = await _lookup(targets.get_target(access.session, access.project.id, target_id))
    view = targets.target_view(access.ctx.sealer, target)
    result = await send_test_event(access.ctx, access.session, access.tenant, target_id)
    return render(request, "hooks/target_test.html", {"target": view, "result": result})


# Rules ---------------------------------------------------------------------------------------


async def _rule_page(
    request: Request,
    access: ProjectAccess,
    values: dict[str, Any],
    *,
    rule: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    target_rows = await targets.list_targets(access.session, access.project.id)
    channels = (await access.session.execute(for_project(Channel, access.project.id))).scalars()
    context = {
        "values": values,
        "rule": rule,
        "targets": [{"id": t.id, "url": t.url, "description": t.description} for t in target_rows],
        "channels": [
            {"id": c.id, "label": c.name or c.display_phone_number or c.phone_number_id} for c in channels
        ],
        "event_types": EVENT_TYPES,
        "message_types": MESSAGE_TYPES,
    }
    return _form_page(request, "hooks/rule_form.html", errors, context)


def _rule_values(rule: dict[str, Any] | None) -> dict[str, Any]:
    if rule is None:
        return {"name": "", "enabled": True, "target_ids": [], "mode": "fields", **conditions_form(None)}
    return {
        "name": rule["name"],
        "enabled": rule["enabled"],
        "target_ids": rule["target_ids"],
        "mode": "fields",
        **conditions_form(rule["conditions"]),
    }


def _echo_rule(form: FormData) -> dict[str, Any]:
    fields = _texts(form)
    return {
        "name": fields.get("name", ""),
        "enabled": fields.get("enabled") == "true",
        "target_ids": _picked(form, "target_ids"),
        "mode": fields.get("mode", "fields"),
        "event_types": _picked(form, "event_types"),
        "message_types": _picked(form, "message_types"),
        "channel_ids": _picked(form, "channel_ids"),
        "senders": fields.get("senders", ""),
        "keywords": fields.get("keywords", ""),
        "regex": fields.get("regex", ""),
        "conditions_json": fields.get("conditions_json", ""),
    }


def _rule_body(request: Request, form: FormData) -> tuple[dict[str, Any] | None, dict[str, str]]:
    fields = _texts(form)
    choices = {key: _picked(form, key) for key in ("event_types", "message_types", "channel_ids")}
    conditions, problems = conditions_body(fields, choices)
    if conditions is None:
        t = translator(language(request))
        return None, {field: t("hooks.err_json", detail=detail) for field, detail in problems.items()}
    body = {
        "name": fields.get("name", ""),
        "enabled": fields.get("enabled") == "true",
        "conditions": conditions,
        "target_ids": _picked(form, "target_ids"),
    }
    return body, {}


@router.get("/dashboard/p/{project_id}/webhooks/rules/new")
async def new_rule(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    values = _rule_values(None)
    wanted = request.query_params.get("target_id")
    if wanted:
        values["target_ids"] = [wanted]
    return await _rule_page(request, access, values)


@router.post("/dashboard/p/{project_id}/webhooks/rules", dependencies=[Depends(check_csrf)])
async def create_rule(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await _form(request)
    body, problems = _rule_body(request, form)
    try:
        if body is None:
            return await _rule_page(request, access, _echo_rule(form), errors=problems)
        await rules.create_rule(access.session, access.tenant, body)
        await access.session.commit()
    except ApiError as exc:
        return await _rule_page(request, access, _echo_rule(form), errors=_errors(exc))
    return _back(access, "rule_created")


@router.get("/dashboard/p/{project_id}/webhooks/rules/{rule_id}")
async def edit_rule(request: Request, rule_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    rule = rules.rule_view(await _lookup(rules.get_rule(access.session, access.project.id, rule_id)))
    return await _rule_page(request, access, _rule_values(rule), rule=rule)


@router.post("/dashboard/p/{project_id}/webhooks/rules/{rule_id}", dependencies=[Depends(check_csrf)])
async def update_rule(request: Request, rule_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    rule = rules.rule_view(await _lookup(rules.get_rule(access.session, access.project.id, rule_id)))
    form = await _form(request)
    body, problems = _rule_body(request, form)
    try:
        if body is None:
            return await _rule_page(request, access, _echo_rule(form), rule=rule, errors=problems)
        await rules.update_rule(access.session, access.tenant, rule_id, body)
        await access.session.commit()
    except ApiError as exc:
        return await _rule_page(request, access, _echo_rule(form), rule=rule, errors=_errors(exc))
    return _back(access, "rule_saved")


@router.post("/dashboard/p/{project_id}/webhooks/rules/{rule_id}/delete", dependencies=[Depends(check_csrf)])
async def delete_rule(request: Request, rule_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    await _lookup(rules.delete_rule(access.session, access.tenant, rule_id))
    await access.session.commit()
    return _back(access, "rule_deleted")


# The rule tester -----------------------------------------------------------------------------


async def _recent_events(access: ProjectAccess) -> list[Event]:
    stmt = for_project(Event, access.project.id).order_by(Event.created_at.desc(), Event.id.desc())
    return list((await access.session.execute(stmt.limit(RECENT_EVENTS))).scalars())


def _sample_of(event: Event) -> dict[str, Any]:
    """A stored event as the Kirem envelope targets receive, which the tester reads."""
    return {"event": event.type, "data": event.data, "channel_id": event.channel_id}


async def _tester_page(
    request: Request,
    access: ProjectAccess,
    *,
    pasted: str = "",
    picked: str = "",
    answer: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    events = await _recent_events(access)
    rule_rows = await rules.list_rules(access.session, access.project.id)
    context = {
        "events": [(e.id, f"{iso(e.created_at)} · {e.type} · {e.id}") for e in events],
        "rule_names": {rule.id: rule.name for rule in rule_rows},
        "pasted": pasted,
        "picked": picked,
        "answer": answer,
    }
    return _form_page(request, "hooks/tester.html", errors, context)


@router.get("/dashboard/p/{project_id}/webhooks/tester")
async def tester(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return await _tester_page(request, access, picked=request.query_params.get("event_id", ""))


@router.post("/dashboard/p/{project_id}/webhooks/tester", dependencies=[Depends(check_csrf)])
async def run_tester(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = _texts(await _form(request))
    t = translator(language(request))
    picked, pasted = form.get("event_id", ""), form.get("sample", "").strip()
    if pasted:
        try:
            sample = orjson.loads(pasted)
        except orjson.JSONDecodeError as exc:
            return await _tester_page(
                request,
                access,
                pasted=pasted,
                picked=picked,
                errors={"sample": t("hooks.err_json", detail=str(exc))},
            )
    elif picked:
        event = await access.session.get(Event, picked)
        if event is None or event.project_id != access.project.id:
            return await _tester_page(
                request,
                access,
                pasted=pasted,
                picked=picked,
                errors={"event_id": t("hooks.err_unknown_event")},
            )
        sample = {"event": _sample_of(event)}
    else:
        return await _tester_page(
            request,
            access,
            pasted=pasted,
            picked=picked,
            errors={"form": t("hooks.err_pick")},
        )
    body = sample if isinstance(sample, dict) else {"event": sample}
    try:
        answer = await rules.run_rule_test(access.session, access.tenant, body)
    except ApiError as exc:
        errors = {("sample" if key != "form" else key): text for key, text in field_errors(exc).items()}
        return await _tester_page(request, access, pasted=pasted, picked=picked, errors=errors)
    return await _tester_page(request, access, pasted=pasted, picked=picked, answer=answer)


# The webhook secret --------------------------------------------------------------------------


@router.post("/dashboard/p/{project_id}/webhooks/secret/rotate", dependencies=[Depends(check_csrf)])
async def rotate_secret(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    secret = await rotate_webhook_secret(access.session, access.ctx.sealer, access.project, utcnow())
    await access.session.commit()
    expires = iso(access.project.previous_secret_expires_at)
    return render(request, "hooks/secret.html", {"secret": secret, "previous_expires_at": expires})
