"""Delivery signatures, checked with the official Standard Webhooks library and plain hmac."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kirem.delivery.signing import sign_headers, verify_kirem_signature
from kirem.tenancy.tokens import generate_secret

BODY = b'{"id":"evt_1","type":"messages.received","data":{"text":"ol\xc3\xa1"}}'


def headers_for(secrets: list[str], *, body: bytes = BODY, payload_format: str = "kirem", **over) -> dict:
    args = dict(
        body=body,
        event_id="evt_1",
        delivery_id="dlv_1",
        event_type="messages.received",
        secrets=secrets,
        timestamp=int(time.time()),
        payload_format=payload_format,
        version="1.2.3",
    )
    args.update(over)
    return sign_headers(**args)


def hex_hmac(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def test_generate_secret_form() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert generate_secret() != secret


def test_plain_headers() -> None:
    secret = generate_secret()
    headers = headers_for([secret], timestamp=1700000000)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Kirem-Webhooks/1.2.3"
    assert headers["X-Kirem-Event"] == "messages.received"
    assert headers["X-Kirem-Delivery"] == "dlv_1"
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert "X-Hub-Signature-256" not in headers


def test_one_secret_verifies_with_standard_webhooks() -> None:
    secret = generate_secret()
    headers = headers_for([secret])
    assert Webhook(secret).verify(BODY, headers) == {
        "id": "evt_1",
        "type": "messages.received",
        "data": {"text": "olá"},
    }
    assert headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]


def test_secret_made_by_the_seed_form_verifies_too() -> None:
    # whsec_ + 32 letters and digits: still base64, so Standard Webhooks libraries accept it
    secret = "whsec_" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    Webhook(secret).verify(BODY, headers_for([secret]))


def test_rotation_both_consumers_verify() -> None:
    new, old = generate_secret(), generate_secret()
    headers = headers_for([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_webhook_id_is_the_event_id_not_the_delivery() -> None:
    secret = generate_secret()
    first = headers_for([secret], delivery_id="dlv_1")
    retry = headers_for([secret], delivery_id="dlv_2")
    assert first["webhook-id"] == retry["webhook-id"] == "evt_1"
    assert first["X-Kirem-Delivery"] != retry["X-Kirem-Delivery"]


def test_kirem_signature_is_plain_hmac_of_the_body() -> None:
    secret = generate_secret()
    headers = headers_for([secret])
    assert headers["X-Kirem-Signature"] == "sha256=" + hex_hmac(secret, BODY)
    assert verify_kirem_signature(secret, BODY, headers["X-Kirem-Signature"])


def test_kirem_signature_during_rotation() -> None:
    new, old = generate_secret(), generate_secret()
    header = headers_for([new, old])["X-Kirem-Signature"]
    assert header == f"sha256={hex_hmac(new, BODY)}, sha256={hex_hmac(old, BODY)}"
    assert verify_kirem_signature(new, BODY, header)
    assert verify_kirem_signature(old, BODY, header)
    assert not verify_kirem_signature(generate_secret(), BODY, header)


def test_meta_format_adds_x_hub_signature_with_newest_secret() -> None:
    new, old = generate_secret(), generate_secret()
    headers = headers_for([new, old], payload_format="meta")
    expected = "sha256=" + hex_hmac(new, BODY)
    # how a consumer written for Meta's webhooks checks it, with the secret as its app secret
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
    # the other schemes are there as well
    Webhook(old).verify(BODY, headers)
    assert verify_kirem_signature(new, BODY, headers["X-Kirem-Signature"])


def test_tampered_body_fails_everywhere() -> None:
    secret = generate_secret()
    headers = headers_for([secret], payload_format="meta")
    tampered = BODY.replace(b"evt_1", b"evt_2")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    assert not verify_kirem_signature(secret, tampered, headers["X-Kirem-Signature"])
    assert headers["X-Hub-Signature-256"] != "sha256=" + hex_hmac(secret, tampered)


def test_tampered_id_or_timestamp_fails_standard_webhooks() -> None:
    secret = generate_secret()
    headers = headers_for([secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "evt_other"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(
            BODY, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}
        )


@pytest.mark.parametrize(
    "header",
    ["", "sha256=", "sha1=abc", "garbage", "sha256=zz, , sha256="],
)
def test_verify_rejects_malformed_headers(header: str) -> None:
    assert not verify_kirem_signature(generate_secret(), BODY, header)


def test_verify_accepts_uppercase_hex_and_loose_spacing() -> None:
    secret = generate_secret()
    digest = hex_hmac(secret, BODY)
    assert verify_kirem_signature(secret, BODY, f"sha256=00,sha256={digest.upper()}")


@pytest.mark.parametrize(
    ("secrets", "payload_format"),
    [([], "kirem"), ("whsec_abcd", "kirem"), (["whsec_"], "kirem"), (["whsec_" + "A" * 32], "xml")],
)
def test_bad_arguments_raise(secrets, payload_format: str) -> None:
    with pytest.raises(ValueError):
        headers_for(secrets, payload_format=payload_format)
