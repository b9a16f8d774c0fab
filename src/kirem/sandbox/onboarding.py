"""Onboarding a number as Meta does it: Embedded Signup, the code exchange, and the calls after it.

The Embedded Signup popup is emulated by a page (``GET /embedded-signup``) whose form "signs up":
it provisions a new number and WABA (not yet registered, no app subscribed) and sends the browser
back to Kirem's setup-link callback with a one-time ``code`` and the new ids, as Meta's popup hands
them to the page that opened it. ``GET /{version}/oauth/access_token`` exchanges that code for the
number's business token. A code is stateless: it names the number and is bound, by an HMAC with
the sandbox app secret, to the number's current token hash, which the exchange replaces — so a code
works once, and only within :data:`CODE_TTL`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.sandbox.errors import (
    MetaError,
    invalid_application,
    invalid_parameter,
    not_one_of,
    required_parameter,
)
from kirem.sandbox.ids import hash_token, new_access_token
from kirem.sandbox.models import SandboxNumber
from kirem.sandbox.provisioning import provision_number

SANDBOX_APP_ID = "1555000000000001"
"""The sandbox's own "Meta app": the client id of its code exchange and its subscribed app."""
SANDBOX_APP_NAME = "Kirem Sandbox"
CODE_TTL = timedelta(minutes=10)
SYNC_TYPES = ("smb_app_state_sync", "history")
_PIN = re.compile(r"^[0-9]{6}$")


def waba_node(number: SandboxNumber) -> dict[str, Any]:
    """``GET /{waba_id}``: the WABA, named after its number's verified name."""
    return {
        "id": number.waba_id,
        "name": number.verified_name,
        "currency": "USD",
        "timezone_id": "1",
        "message_template_namespace": hashlib.sha256(number.waba_id.encode()).hexdigest()[:32],
        "account_review_status": "APPROVED",
    }


def subscribed_apps(number: SandboxNumber) -> dict[str, Any]:
    app = {
        "id": SANDBOX_APP_ID,
        "name": SANDBOX_APP_NAME,
        "link": "https://www.facebook.com/games/?app_id=" + SANDBOX_APP_ID,
    }
    return {"data": [{"whatsapp_business_api_data": app}] if number.app_subscribed else []}


def register(number: SandboxNumber, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("messaging_product") != "whatsapp":
        raise not_one_of("messaging_product", ["whatsapp"], body.get("messaging_product"))
    pin = body.get("pin")
    if pin is None:
        raise required_parameter("pin")
    if not isinstance(pin, str) or not _PIN.match(pin):
        raise invalid_parameter("The pin must be a string of 6 digits.")
    number.registered = True
    return {"success": True}


def start_sync(number: SandboxNumber, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /{phone_number_id}/smb_app_data``: accepted; the phone app's data comes as webhooks later."""
    if body.get("messaging_product") != "whatsapp":
        raise not_one_of("messaging_product", ["whatsapp"], body.get("messaging_product"))
    sync_type = body.get("sync_type")
    if sync_type not in SYNC_TYPES:
        raise not_one_of("sync_type", list(SYNC_TYPES), sync_type)
    request_id = hashlib.sha256(f"{number.phone_number_id}:{sync_type}".encode()).hexdigest()[:24]
    return {"success": True, "request_id": request_id}


def _code_mac(secret: str, phone_number_id: str, expires: int, token_hash: str) -> str:
    message = f"{phone_number_id}.{expires}.{token_hash}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def mint_code(secret: str, number: SandboxNumber, now: datetime) -> str:
    expires = int((now + CODE_TTL).timestamp())
    mac = _code_mac(secret, number.phone_number_id, expires, number.access_token_hash)
    return f"{number.phone_number_id}.{expires}.{mac}"


def _invalid_code(message: str) -> MetaError:
    return MetaError(400, 100, message)


async def exchange_code(
    session: AsyncSession, secret: str, params: dict[str, str], now: datetime
) -> dict[str, Any]:
    """``GET /oauth/access_token``: the client id and secret of the sandbox app, and a fresh code."""
    for name in ("client_id", "client_secret", "code"):
        if not params.get(name):
            raise required_parameter(name)
    if params["client_id"] != SANDBOX_APP_ID:
        raise invalid_application()
    if not hmac.compare_digest(params["client_secret"].encode(), secret.encode()):
        raise _invalid_code("Error validating client secret.")
    parts = params["code"].split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise _invalid_code("Invalid verification code format.")
    phone_number_id, expires, mac = parts[0], int(parts[1]), parts[2]
    number = await session.get(SandboxNumber, phone_number_id)
    expected = _code_mac(secret, phone_number_id, expires, number.access_token_hash) if number else ""
    if number is None or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise _invalid_code("This authorization code has been used or is not valid.")
    if now.timestamp() > expires:
        raise _invalid_code("This authorization code has expired.")
    token = new_access_token()
    number.access_token_hash = hash_token(token)
    return {"access_token": token, "token_type": "bearer"}


async def sign_up(
    session: AsyncSession, secret: str, business_name: str, now: datetime
) -> tuple[SandboxNumber, str]:
    """The popup's "finish": a new number and WABA, unregistered and unsubscribed, and its code."""
    provisioned = await provision_number(session, verified_name=business_name, now=now)
    number = await session.get(SandboxNumber, provisioned.phone_number_id)
    assert number is not None
    number.app_subscribed = False
    number.registered = False
    await session.flush()
    return number, mint_code(secret, number, now)


def back_to_page(redirect_uri: str, state: str, number: SandboxNumber, code: str) -> str:
    query = urlencode(
        {"code": code, "state": state, "waba_id": number.waba_id, "phone_number_id": number.phone_number_id}
    )
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"


def popup_page(*, app_id: str, state: str, redirect_uri: str, coexistence: bool) -> str:
    """The emulated popup: what the business would fill in at Meta, reduced to its name."""
    flow = "WhatsApp Business app number (coexistence)" if coexistence else "new Cloud API number"
    fields = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in (
            ("app_id", app_id),
            ("state", state),
            ("redirect_uri", redirect_uri),
            ("coexistence", "true" if coexistence else "false"),
        )
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox Embedded Signup</title>'
        "</head><body><h1>Sandbox Embedded Signup</h1>"
        f"<p>This stands in for Meta's signup popup: connect a {html.escape(flow)} to the app "
        f"{html.escape(app_id)}.</p>"
        f'<form method="post" action="embedded-signup">{fields}'
        '<label>Business name <input name="business_name" value="Sandbox Client" maxlength="100"></label> '
        '<button type="submit">Finish</button></form></body></html>'
    )
