"""Identifiers shaped like Meta's: numeric object ids, ``wamid.`` message ids, access tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits


def numeric_id(digits: int = 15) -> str:
    """A random numeric string with no leading zero, like Graph object ids."""
    rest = "".join(secrets.choice(string.digits) for _ in range(digits - 1))
    return secrets.choice("123456789") + rest


def new_wamid(wa_id: str, *, inbound: bool) -> str:
    """A message id laid out like Meta's: base64 of a small record holding the customer's number.

    Meta's ids for messages a customer sent carry ``0x12`` where ids of messages a business sent
    carry ``0x11`` (``…AgAS…`` versus ``…AgAR…`` once encoded); this keeps the same trait.
    """
    number = wa_id.encode()[:255]
    core = secrets.token_hex(10).upper().encode()
    raw = (
        b"\x1c\x18"
        + bytes([len(number)])
        + number
        + b"\x15\x02\x00"
        + (b"\x12" if inbound else b"\x11")
        + b"\x18"
        + bytes([len(core)])
        + core
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode()


def fbtrace_id() -> str:
    return secrets.token_urlsafe(17)[:23]


def new_access_token() -> str:
    """A long-lived system-user-like token; ``EAAS`` marks it as a sandbox token at a glance."""
    return "EAAS" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(140))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
