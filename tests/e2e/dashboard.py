"""Helpers for dashboard tests: users made with the CLI, and signing in (browser or plain HTTP)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.e2e.conftest import Server

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def unique_email(prefix: str = "owner") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


def create_owner(
    server: Server, email: str, password: str, plan: str = "growth", account: str | None = None
) -> dict[str, Any]:
    """A fresh account (bootstrapped: project ``main``, sandbox channel, key) and its owner user.

    Returns the bootstrap's answer with ``account`` (its name), ``email`` and ``password``.
    """
    account = account or f"acct-{secrets.token_hex(4)}"
    info = server.bootstrap(plan=plan, account=account)
    server.cli("users", "create", email, "--account", account, "--owner", "--password", password)
    return {**info, "account": account, "email": email, "password": password}


def create_member(server: Server, account: str, email: str, password: str, project: str, role: str) -> None:
    """A user of ``account`` with ``role`` on one project (by name)."""
    server.cli(
        "users", "create", email, "--account", account, "--project", project, "--role", role,
        "--password", password,
    )  # fmt: skip


def login(page: Page, server: Server, email: str, password: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{server.url}/dashboard/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/dashboard/login'] button[type=submit]")
    page.wait_for_load_state()


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


def http_login(client: httpx.Client, email: str, password: str) -> str:
    """Sign in over plain HTTP with ``client`` (keeping its cookies); returns the session's CSRF token."""
    form = client.get("/dashboard/login")
    answer = client.post(
        "/dashboard/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/dashboard/?list=1").text)
