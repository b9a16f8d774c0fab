"""Every dashboard form shown again with errors to correct answers 400, the form filled in again."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.e2e.dashboard import PASSWORD, create_owner, http_login, unique_email
from tests.e2e.test_dashboard_hooks import Web, _created_target, _target_form

ERROR_MARKS = ('aria-invalid="true"', 'class="field-error"', 'role="alert"')
"""How a form shows an error: on its field, under it, or above the form."""


@pytest.fixture
def web(server: Server) -> Iterator[Web]:
    info = create_owner(server, unique_email("forms"), PASSWORD)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield Web(client, http_login(client, info["email"], PASSWORD), info)


def test_every_form_shown_again_with_errors_answers_400(web: Web) -> None:
    target_id = _created_target(web, "http://127.0.0.1:9/hook")
    refused = {
        "target": web.post("/webhooks/targets", _target_form("ftp://nowhere")),
        "target edit": web.post(f"/webhooks/targets/{target_id}", _target_form("ftp://nowhere")),
        "rule": web.post(
            "/webhooks/rules",
            [("name", "Orders"), ("target_ids", target_id), ("mode", "json"), ("conditions_json", "{nope")],
        ),
        "tester": web.post("/webhooks/tester", {"sample": '{"type": "nope"}'}),
        "live channel": web.post(
            "/channels", {"name": "x", "phone_number_id": "", "waba_id": "", "access_token": ""}
        ),
        "setup link": web.post(
            "/channels/setup-links", {"client_name": "", "redirect_url": "nope", "expires_hours": "abc"}
        ),
        "key": web.post("/keys", {"name": "k", "mode": "bogus", "scope": "api"}),
        "ip allowlist": web.post("/settings/ip-allowlist", {"cidrs": "not-an-address"}),
        "template": web.post("/templates/new", {"name": "Not A Name!", "category": "UTILITY", "body": ""}),
        "profile": web.post("/profile", {"about": "x" * 1000}),
    }
    statuses = {form: answer.status_code for form, answer in refused.items()}
    assert statuses == dict.fromkeys(refused, 400)
    for form, answer in refused.items():
        assert "<form" in answer.text and any(mark in answer.text for mark in ERROR_MARKS), form
