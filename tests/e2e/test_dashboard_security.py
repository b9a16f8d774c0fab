"""Dashboard security over plain HTTP: CSRF, session fixation, roles, tenancy, the login throttle, logout.

The server trusts 127.0.0.1 as a proxy, so each test signs in from its own ``X-Forwarded-For``
address: a test that locks its address out locks out no other test.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from kirem.dashboard.sessions import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_EMAIL
from tests.conftest import ENGINES
from tests.e2e.conftest import Server, auth, serving
from tests.e2e.dashboard import PASSWORD, create_member, create_owner, csrf_of, http_login, unique_email


@pytest.fixture(scope="module", params=ENGINES)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    tmp = tmp_path_factory.mktemp(f"dash-sec-{request.param}")
    async with serving(request.param, tmp, KIREM_TRUSTED_PROXIES="127.0.0.1/32") as srv:
        yield srv


ADDRESSES = (f"198.51.100.{host}" for host in range(1, 255))
"""One per client: a random pick could fall on the address a test locked (the server is shared)."""


def browser_like(server: Server) -> httpx.Client:
    """A client with cookies, coming from an address of its own."""
    address = next(ADDRESSES)
    return httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address})


@pytest.fixture
def owner(server: Server) -> dict[str, object]:
    return create_owner(server, unique_email(), PASSWORD)


@pytest.fixture
def web(server: Server) -> Iterator[httpx.Client]:
    with browser_like(server) as http:
        yield http


def key_count(server: Server, owner: dict[str, object]) -> int:
    answer = httpx.get(
        f"{server.url}/v1/manage/projects/{owner['project_id']}/keys",
        headers=auth(str(owner["account_token"])),
    )
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


def test_a_form_without_the_sessions_csrf_token_is_refused(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    token = http_login(web, str(owner["email"]), PASSWORD)
    before = key_count(server, owner)
    keys = f"/dashboard/p/{owner['project_id']}/keys"

    missing = web.post(keys, data={"name": "forged"})
    wrong = web.post(keys, data={"name": "forged", "csrf_token": "x" + token})
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "Request refused" in missing.text
    assert key_count(server, owner) == before

    made = web.post(keys, data={"name": "real", "csrf_token": token})
    assert made.status_code == 200, made.text
    assert key_count(server, owner) == before + 1


def test_sign_in_form_needs_its_token_too(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    answer = web.post("/dashboard/login", data={"email": owner["email"], "password": PASSWORD})
    assert answer.status_code == 403
    assert "kirem_session" not in web.cookies


def test_a_planted_session_id_is_never_signed_in(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    planted = "attacker-chosen-" + secrets.token_urlsafe(16)
    web.cookies.set("kirem_session", planted, domain="127.0.0.1", path="/dashboard")
    http_login(web, str(owner["email"]), PASSWORD)
    issued = web.cookies.get("kirem_session", path="/dashboard")
    assert issued and issued != planted

    with browser_like(server) as attacker:
        attacker.cookies.set("kirem_session", planted, domain="127.0.0.1", path="/dashboard")
        answer = attacker.get(f"/dashboard/p/{owner['project_id']}/overview")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/dashboard/login?next=")


def test_signing_in_again_rotates_the_session(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    token = http_login(web, str(owner["email"]), PASSWORD)
    first = str(web.cookies.get("kirem_session", path="/dashboard"))
    again = web.post(
        "/dashboard/login", data={"email": owner["email"], "password": PASSWORD, "csrf_token": token}
    )
    assert again.status_code == 303
    second = web.cookies.get("kirem_session", path="/dashboard")
    assert second and second != first
    with browser_like(server) as old:
        old.cookies.set("kirem_session", first, domain="127.0.0.1", path="/dashboard")
        assert old.get(f"/dashboard/p/{owner['project_id']}/overview").status_code == 303


def test_session_cookie_is_httponly_and_samesite_lax(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    form = web.get("/dashboard/login")
    answer = web.post(
        "/dashboard/login",
        data={"email": owner["email"], "password": PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("kirem_session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes
    assert "samesite=lax" in cookie.lower()


def test_an_agent_reaches_neither_keys_nor_webhooks(server: Server, owner: dict[str, object]) -> None:
    email = unique_email("agent")
    create_member(server, str(owner["account"]), email, PASSWORD, "main", "agent")
    project = owner["project_id"]
    with browser_like(server) as agent:
        token = http_login(agent, email, PASSWORD)
        for page in ("overview", "keys", "channels", "webhooks", "deliveries", "settings", "logs"):
            answer = agent.get(f"/dashboard/p/{project}/{page}")
            assert answer.status_code == 404, (page, answer.status_code)
        refused = agent.post(f"/dashboard/p/{project}/keys", data={"name": "agent", "csrf_token": token})
        assert refused.status_code == 404
        listing = agent.get("/dashboard/?list=1")
        assert f"/dashboard/p/{project}/inbox" in listing.text
        assert f"/dashboard/p/{project}/keys" not in listing.text
    assert key_count(server, owner) == 1


def test_one_account_cannot_see_anothers_projects(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    other = create_owner(server, unique_email("other"), PASSWORD)
    token = http_login(web, str(owner["email"]), PASSWORD)
    theirs = other["project_id"]
    for page in ("overview", "keys", "channels", "settings"):
        assert web.get(f"/dashboard/p/{theirs}/{page}").status_code == 404
    their_key = other["api_key_id"]
    revoke = web.post(f"/dashboard/p/{theirs}/keys/{their_key}/revoke", data={"csrf_token": token})
    assert revoke.status_code == 404
    # nor through a project of one's own: the key is looked up in that project only
    mine = web.post(f"/dashboard/p/{owner['project_id']}/keys/{their_key}/revoke", data={"csrf_token": token})
    assert mine.status_code == 303
    alive = httpx.get(f"{server.url}/v1/usage", headers=auth(str(other["api_key"])))
    assert alive.status_code == 200


def test_repeated_wrong_passwords_lock_the_email_even_for_the_right_one(
    server: Server, owner: dict[str, object]
) -> None:
    email = str(owner["email"])
    with browser_like(server) as web:
        for _ in range(MAX_FAILURES_PER_EMAIL):
            form = web.get("/dashboard/login")
            wrong = web.post(
                "/dashboard/login",
                data={"email": email, "password": "not the password", "csrf_token": csrf_of(form.text)},
            )
            assert "Wrong email or password" in wrong.text
    with browser_like(server) as web:  # another address: the email itself is locked
        form = web.get("/dashboard/login")
        right = web.post(
            "/dashboard/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
        )
        assert "Too many failed sign-ins" in right.text
        assert "kirem_session" not in web.cookies


def test_one_address_trying_many_emails_is_locked(server: Server, owner: dict[str, object]) -> None:
    with browser_like(server) as web:
        for n in range(MAX_FAILURES_PER_ADDRESS):
            form = web.get("/dashboard/login")
            guess = web.post(
                "/dashboard/login",
                data={
                    "email": f"guess-{n}@example.com",
                    "password": "hunter2hunter2",
                    "csrf_token": csrf_of(form.text),
                },
            )
            assert "Wrong email or password" in guess.text
        form = web.get("/dashboard/login")
        right = web.post(
            "/dashboard/login",
            data={"email": owner["email"], "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        )
        assert "Too many failed sign-ins" in right.text
        assert "kirem_session" not in web.cookies
    with browser_like(server) as elsewhere:  # the owner, from another address, still gets in
        http_login(elsewhere, str(owner["email"]), PASSWORD)


def test_log_out_everywhere_ends_every_session_of_the_user(server: Server, owner: dict[str, object]) -> None:
    overview = f"/dashboard/p/{owner['project_id']}/overview"
    with browser_like(server) as laptop, browser_like(server) as phone:
        token = http_login(laptop, str(owner["email"]), PASSWORD)
        http_login(phone, str(owner["email"]), PASSWORD)
        assert phone.get(overview).status_code == 200
        answer = laptop.post("/dashboard/logout-everywhere", data={"csrf_token": token})
        assert answer.status_code == 303
        assert phone.get(overview).status_code == 303
        assert laptop.get(overview).status_code == 303


def test_log_out_ends_only_this_session(server: Server, owner: dict[str, object]) -> None:
    overview = f"/dashboard/p/{owner['project_id']}/overview"
    with browser_like(server) as laptop, browser_like(server) as phone:
        token = http_login(laptop, str(owner["email"]), PASSWORD)
        http_login(phone, str(owner["email"]), PASSWORD)
        old = laptop.cookies.get("kirem_session", path="/dashboard")
        assert laptop.post("/dashboard/logout", data={"csrf_token": token}).status_code == 303
        assert phone.get(overview).status_code == 200
        with browser_like(server) as replay:  # the old cookie is dead on the server, not only in the browser
            replay.cookies.set("kirem_session", str(old), domain="127.0.0.1", path="/dashboard")
            assert replay.get(overview).status_code == 303


def test_the_operator_signs_in_with_the_operator_token_and_sees_every_account(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    form = web.get("/dashboard/login")
    wrong = web.post("/dashboard/login/operator", data={"token": "nope", "csrf_token": csrf_of(form.text)})
    assert "Wrong operator token" in wrong.text
    assert "kirem_session" not in web.cookies
    right = web.post(
        "/dashboard/login/operator", data={"token": "operator-e2e", "csrf_token": csrf_of(form.text)}
    )
    assert right.status_code == 303
    listing = web.get("/dashboard/")
    assert listing.status_code == 200
    assert str(owner["account"]) in listing.text or "page=2" in listing.text
    assert web.get(f"/dashboard/p/{owner['project_id']}/keys").status_code == 200


def test_a_reset_password_ends_the_users_sessions(
    server: Server, owner: dict[str, object], web: httpx.Client
) -> None:
    http_login(web, str(owner["email"]), PASSWORD)
    overview = f"/dashboard/p/{owner['project_id']}/overview"
    assert web.get(overview).status_code == 200
    server.cli("users", "reset-password", str(owner["email"]), "--password", "a brand new password")
    assert web.get(overview).status_code == 303
    with browser_like(server) as again:
        http_login(again, str(owner["email"]), "a brand new password")
