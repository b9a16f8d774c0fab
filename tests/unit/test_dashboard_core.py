"""The dashboard's logic without a server: languages, charts, redirects, errors, passwords, users."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from starlette.requests import Request

from kirem.api.responses import ApiError
from kirem.dashboard import sessions, users
from kirem.dashboard.charts import grouped_bars
from kirem.dashboard.forms import field_errors
from kirem.dashboard.i18n import CATALOG, LANGUAGES, pick_language, translator
from kirem.dashboard.models import LoginThrottle, WebSession
from kirem.dashboard.nav import nav_for
from kirem.dashboard.passwords import hash_password, verify_password
from kirem.dashboard.web import safe_next, secure_cookies
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.kit.errors import invalid
from kirem.tenancy.models import Account, Project


def test_every_message_exists_in_every_language() -> None:
    keys = {lang: set(CATALOG[lang]) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys[lang] == keys["en"], f"{lang} differs: {keys[lang] ^ keys['en']}"
    assert all(CATALOG[lang][key].strip() for lang in LANGUAGES for key in keys[lang])


def test_translation_formats_and_falls_back_to_the_key() -> None:
    assert translator("id")("login.locked", minutes=3) == (
        "Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam 3 menit."
    )
    assert translator("en")("no.such.key") == "no.such.key"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("id", "en-US", "id"),
        (None, "id-ID,id;q=0.9,en;q=0.8", "id"),
        (None, "fr-FR, en;q=0.5, id;q=0.7", "id"),
        (None, "de, fr", "en"),
        ("xx", None, "en"),
        (None, "id;q=abc, en", "en"),
    ],
)
def test_language_comes_from_the_cookie_then_the_browser(
    cookie: str | None, header: str | None, expected: str
) -> None:
    assert pick_language(cookie, header) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/dashboard/p/prj_1/keys?x=1", "/dashboard/p/prj_1/keys?x=1"),
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/dashboard", "/dashboard/"),
        ("/dashboard\\@evil.example", "/dashboard/"),
        (None, "/dashboard/"),
    ],
)
def test_going_back_after_sign_in_stays_on_the_dashboard(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_an_agent_is_offered_only_the_inbox() -> None:
    assert [item["area"] for item in nav_for("prj_1", "agent", "/")] == ["inbox"]
    staff = nav_for("prj_1", "developer", "/dashboard/p/prj_1/keys/key_1")
    assert [item["area"] for item in staff if item["active"]] == ["keys"]
    assert {"keys", "webhooks", "settings"} <= {item["area"] for item in staff}


def test_bars_scale_to_the_largest_value_and_keep_small_ones_visible() -> None:
    chart = grouped_bars([("a", {"sent": 100, "failed": 1}), ("b", {"sent": 50})], ("sent", "failed"))
    heights = {(bar.label, bar.series): bar.height for bar in chart.bars}
    assert chart.maximum == 100
    assert heights[("a", "sent")] == 2 * heights[("b", "sent")]
    assert heights[("a", "failed")] >= 2
    assert heights[("b", "failed")] == 0
    assert all(bar.y + bar.height <= chart.height for bar in chart.bars)


def test_an_empty_chart_draws_no_bar_height() -> None:
    chart = grouped_bars([("a", {})], ("sent",))
    assert [bar.height for bar in chart.bars] == [0]


def test_field_errors_name_fields_and_keep_the_message() -> None:
    errors = field_errors(invalid({"name": "is required", "cidrs[0]": "bad"}))
    assert errors == {"name": "is required", "cidrs[0]": "bad", "form": "Validation failed"}
    assert field_errors(ApiError(409, "Already exists")) == {"form": "Already exists"}
    assert field_errors(ApiError(400, "Meta refused", {"meta": {"code": 100}}))["meta.code"] == "100"


def test_passwords_verify_only_against_their_own_hash() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong horse battery")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not a hash", "correct horse battery")


def test_starting_the_app_hashes_no_password() -> None:
    """The unknown-email dummy hash is made on the first sign-in, not at import (tens of ms and 64 MiB)."""
    probe = (
        "import argon2\n"
        "calls = []\n"
        "real = argon2.PasswordHasher.hash\n"
        "argon2.PasswordHasher.hash = lambda self, *a, **k: calls.append(1) or real(self, *a, **k)\n"
        "import kirem.app\n"
        "print(len(calls))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"


async def _account(database: Database) -> tuple[Account, Project, Project]:
    async with database.transaction() as session:
        account = Account(name=f"acct-{utcnow().timestamp()}", plan="growth", limit_overrides={})
        session.add(account)
        await session.flush()
        shop = Project(account_id=account.id, name="shop", webhook_secret_sealed="x")
        other = Project(account_id=account.id, name="other", webhook_secret_sealed="x")
        session.add_all([shop, other])
    return account, shop, other


async def test_users_see_their_projects_with_their_roles(database: Database) -> None:
    account, shop, other = await _account(database)
    async with database.transaction() as session:
        owner = await users.create_user(
            session, account, " Owner@Example.com ", "a long password", account_owner=True
        )
        agent = await users.create_user(
            session, account, "agent@example.com", "a long password", account_owner=False
        )
        await users.set_role(session, agent, shop, "agent")
    async with database.session() as session:
        assert owner.email == "owner@example.com"
        assert [(r.project.name, r.role) for r in await users.visible_projects(session, owner)] == [
            ("shop", "owner"),
            ("other", "owner"),
        ]
        assert [(r.project.name, r.role) for r in await users.visible_projects(session, agent)] == [
            ("shop", "agent")
        ]
        assert await users.project_role(session, agent, other.id) is None
        with pytest.raises(ApiError) as taken:
            await users.create_user(
                session, account, "OWNER@example.com", "a long password", account_owner=False
            )
        assert taken.value.status == 409


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [("not an email", "a long password", "email"), ("a@example.com", "short", "password")],
)
async def test_a_user_needs_an_email_and_a_long_enough_password(
    database: Database, email: str, password: str, field: str
) -> None:
    account, _, _ = await _account(database)
    async with database.transaction() as session:
        with pytest.raises(ApiError) as refused:
            await users.create_user(session, account, email, password, account_owner=False)
    assert refused.value.status == 400
    assert field in refused.value.errors


async def test_failures_lock_a_key_once_they_reach_its_limit(database: Database) -> None:
    keys = [("email:x@example.com", 3)]
    async with database.transaction() as session:
        for _ in range(2):
            await sessions.record_failure(session, keys)
        assert await sessions.locked_for(session, keys) is None
        await sessions.record_failure(session, keys)
        wait = await sessions.locked_for(session, keys)
    assert wait is not None and timedelta(minutes=14) < wait <= sessions.LOCKOUT


async def test_stale_sessions_and_throttles_are_forgotten(database: Database) -> None:
    now = utcnow()
    async with database.transaction() as session:
        await sessions.start_session(session, None, operator=True)
        await sessions.record_failure(session, [("address:192.0.2.1", 20)])
    async with database.transaction() as session:
        await sessions.purge_stale(session, now + timedelta(minutes=1))
        assert len((await session.execute(select(WebSession))).all()) == 1  # still young
        assert len((await session.execute(select(LoginThrottle))).all()) == 1
        await sessions.purge_stale(session, now + sessions.SESSION_IDLE + timedelta(minutes=1))
        assert (await session.execute(select(WebSession))).all() == []
        assert (await session.execute(select(LoginThrottle))).all() == []


def test_cookies_are_secure_over_https_and_in_production() -> None:
    def request(scheme: str, env: str) -> Request:
        app = SimpleNamespace(state=SimpleNamespace(ctx=SimpleNamespace(settings=SimpleNamespace(env=env))))
        scope = {
            "type": "http",
            "scheme": scheme,
            "path": "/",
            "headers": [],
            "app": app,
            "server": ("x", 80),
        }
        return Request(scope)

    assert not secure_cookies(request("http", "development"))
    assert secure_cookies(request("https", "development"))
    assert secure_cookies(request("http", "production"))
