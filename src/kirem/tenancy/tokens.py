"""Random bearer secrets (API keys, account tokens) and how they are stored.

They carry 190 bits of randomness, so a plain SHA-256 is a safe one-way store (no dictionary to
search) and keeps authentication to one indexed lookup; Argon2 is kept for human passwords.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = 24


def random_secret(prefix: str, length: int = 32) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def display_prefix(value: str) -> str:
    """The part of a secret safe to show again later (enough to recognise it)."""
    return value[: value.rfind("_") + 5]


def generate_secret() -> str:
    """A new webhook secret in the Standard Webhooks form: ``whsec_`` + base64 of 24 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode("ascii")
