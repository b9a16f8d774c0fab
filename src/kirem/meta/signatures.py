"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under any of ``secrets`` (constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    candidate = header.encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(secret, body).encode(), candidate)
    return matched
