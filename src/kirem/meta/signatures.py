"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``,
and the way Meta writes the body it signs."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()


def verify(secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under any of ``secrets`` (constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    candidate = header.encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(secret, body).encode(), candidate)
    return matched


_META_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
"""What ``json.dumps(payload, separators=(",", ":"), ensure_ascii=True)`` builds at every call, built once."""


def webhook_body(payload: Any) -> bytes:
    """Compact JSON with every non-ASCII character escaped (``\\u00e9``, surrogate pairs beyond the
    BMP), as Meta writes webhook bodies: consumers re-create that escaping before they check the
    signature (whatsapp-api-js does), so a body signed as raw UTF-8 would fail there."""
    return _META_JSON.encode(payload).encode("ascii")
