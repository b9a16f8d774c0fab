"""Signing outgoing webhook deliveries.

Every delivery carries three independent proofs, all made with the project's webhook secret:

``X-Kirem-Signature: sha256=<hex>``
    HMAC-SHA256 of the raw body, keyed with the whole secret string (``whsec_…``) as UTF-8 — Kirem's
    first scheme, which consumers already verify (docs/routing.md, "Signatures"), so it never
    changes. During a secret rotation both secrets sign: ``sha256=<new>, sha256=<old>``.

``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature: v1,<base64>``
    The Standard Webhooks scheme (https://www.standardwebhooks.com), so any of its libraries verifies
    a delivery: the key is the base64-decoded part after ``whsec_``, the signed message is
    ``{webhook-id}.{webhook-timestamp}.{raw body}``. ``webhook-id`` is the event id, stable across
    retries and targets, so consumers can de-duplicate on it. Several signatures are separated by
    spaces during a rotation.

``X-Hub-Signature-256: sha256=<hex>`` (``meta`` payload format only)
    Meta's own header, keyed with the whole secret string and made with the newest secret only, so a
    consumer written for Meta's webhooks verifies it unchanged with the secret as its app secret.

A consumer that checks ``X-Kirem-Signature`` by hand::

    from kirem.delivery.signing import verify_kirem_signature

    ok = verify_kirem_signature(secret, raw_body, request.headers["X-Kirem-Signature"])
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
PAYLOAD_FORMATS = ("kirem", "meta")

KIREM_SIGNATURE_HEADER = "X-Kirem-Signature"
META_SIGNATURE_HEADER = "X-Hub-Signature-256"


def generate_secret() -> str:
    """A new webhook secret in the Standard Webhooks form: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _standard_key(secret: str) -> bytes:
    """The Standard Webhooks signing key: the base64 payload after ``whsec_``.

    Decoded leniently (missing padding tolerated, as the reference libraries do), so a secret that
    a Standard Webhooks library accepts signs the same way here.
    """
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "==")
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not in the whsec_<base64> form") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def kirem_signature(secret: str, body: bytes) -> str:
    """One ``sha256=<hex>`` value of ``X-Kirem-Signature`` (also the value of ``X-Hub-Signature-256``)."""
    return "sha256=" + _hex_hmac(secret, body)


def standard_signature(secret: str, *, event_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` value of ``webhook-signature``."""
    message = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_headers(
    *,
    body: bytes,
    event_id: str,
    delivery_id: str,
    event_type: str,
    secrets: Sequence[str],
    timestamp: int,
    payload_format: str,
    version: str,
) -> dict[str, str]:
    """The headers of one delivery attempt.

    ``secrets`` are the project's webhook secrets, newest first (two during a rotation; each signs).
    ``timestamp`` is the Unix time of this attempt in seconds (Standard Webhooks consumers reject a
    timestamp more than about five minutes off, so pass the attempt's time, not the event's).
    Raises ``ValueError`` for no secret, a malformed secret or an unknown payload format.
    """
    if isinstance(secrets, str) or not secrets:
        raise ValueError("at least one webhook secret is required (a sequence, newest first)")
    if payload_format not in PAYLOAD_FORMATS:
        raise ValueError(f"unknown payload format {payload_format!r}; expected one of {PAYLOAD_FORMATS}")
    timestamp = int(timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Kirem-Webhooks/{version}",
        "X-Kirem-Event": event_type,
        "X-Kirem-Delivery": delivery_id,
        KIREM_SIGNATURE_HEADER: ", ".join(kirem_signature(secret, body) for secret in secrets),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(secret, event_id=event_id, timestamp=timestamp, body=body)
            for secret in secrets
        ),
    }
    if payload_format == "meta":
        headers[META_SIGNATURE_HEADER] = kirem_signature(secrets[0], body)
    return headers


def verify_kirem_signature(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` (an ``X-Kirem-Signature`` value) holds a signature of ``body`` by ``secret``.

    Accepts the rotation form ``sha256=<a>, sha256=<b>``: any one matching value is enough. Every
    value is compared in constant time.
    """
    if not header:
        return False
    expected = kirem_signature(secret, body).encode("ascii")
    matched = False
    for part in header.split(","):
        candidate = part.strip()
        if not candidate.startswith("sha256="):
            continue
        matched |= hmac.compare_digest(expected, candidate.lower().encode("ascii", "replace"))
    return matched
