"""The Node.js WhatsApp clients themselves, pointed at a live Kirem: whatsapp-api-js (through its
``ponyfill.fetch``) and Meta's own Node.js SDK (npm ``whatsapp``, through its environment variables
and a TLS front). Their pinned versions are in tests/node/package-lock.json, installed with
``npm ci`` into tests/node/node_modules (git-ignored) once per session; the scripts beside it print
what each library returned, as JSON, for the assertions here."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import consumer_server
from tests.e2e.test_seed_examples import CUSTOMER, customer_writes, png_bytes
from tests.e2e.tls_proxy import tls_proxy

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
TEMPLATE_NAME = "node_order_update"
CUSTOMER_TEXT = "Halo, pesanan saya sudah dikirim? 👋"
"""Not ASCII on purpose: Meta's signature covers its ``\\uXXXX``-escaped body, which clients re-create."""


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with the pinned client libraries installed (``npm ci``)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node and npm are needed to drive the Node.js clients (tests/node)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return node


def run_node(node: str, script: str, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [node, script],
        cwd=NODE_DIR,
        env={"PATH": os.environ.get("PATH", ""), "NODE_ENV": "production", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def approved_template(http: httpx.Client, boot: dict[str, Any]) -> None:
    """A template with one body variable, created through Graph-compatible mode and approved."""
    key = auth(boot["api_key"])
    template = {
        "name": TEMPLATE_NAME,
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Order {{1}} is on its way"}],
    }
    created = http.post(f"/v23.0/{boot['waba_id']}/message_templates", json=template, headers=key)
    assert created.status_code == 200, created.text

    def approved() -> bool:
        page = http.get(
            f"/v23.0/{boot['waba_id']}/message_templates", params={"name": TEMPLATE_NAME}, headers=key
        )
        return any(t["status"] == "APPROVED" for t in page.json()["data"])

    assert wait_for(approved), "the template was never approved"


def sent(answer: dict[str, Any]) -> str:
    assert answer["messaging_product"] == "whatsapp", answer
    assert answer["contacts"][0]["wa_id"] == CUSTOMER, answer
    wamid = answer["messages"][0]["id"]
    assert isinstance(wamid, str) and wamid.startswith("wamid."), answer
    return wamid


def test_whatsapp_api_js_sends_reads_media_and_takes_a_signed_delivery(
    server: Server, client: httpx.Client, node: str
) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    approved_template(client, boot)
    with consumer_server() as bot:
        target = {"url": bot.endpoint("/bot"), "payload_format": "meta", "events": ["messages.received"]}
        created = client.post("/v1/webhooks/targets", json=target, headers=key)
        assert created.status_code == 201, created.text
        inbound = customer_writes(client, boot, text=CUSTOMER_TEXT)
        [delivery] = bot.wait_for("/bot", 1)
    result = run_node(
        node,
        "whatsapp_api_js.mjs",
        {
            "KIREM_URL": server.url,
            "API_KEY": boot["api_key"],
            "WEBHOOK_SECRET": boot["webhook_secret"],
            "PHONE_NUMBER_ID": boot["phone_number_id"],
            "CUSTOMER": CUSTOMER,
            "INBOUND_WAMID": inbound,
            "TEMPLATE_NAME": TEMPLATE_NAME,
            "PNG_BASE64": base64.b64encode(png_bytes()).decode(),
            "DELIVERY_BASE64": base64.b64encode(delivery.body).decode(),
            "DELIVERY_SIGNATURE": delivery.headers["x-hub-signature-256"],
        },
    )
    sent(result["text"])
    sent(result["template"])
    assert result["template"]["messages"][0]["message_status"] == "accepted"
    assert result["read"] == {"success": True}

    media_id = result["uploaded"]["id"]
    assert result["uploaded"] == {"id": media_id} and media_id.isdigit()
    media = result["media"]
    assert media["id"] == media_id and media["messaging_product"] == "whatsapp"
    assert media["mime_type"] == "image/png" and media["url"].startswith(server.url + "/")
    assert media["sha256"] == hashlib.sha256(png_bytes()).hexdigest()
    assert int(media["file_size"]) == len(png_bytes())
    assert result["downloaded"] is True
    sent(result["image"])
    assert result["deleted"] == {"success": True}

    sent(result["botReply"])  # the bot verified Kirem's delivery with the webhook secret, then replied
    assert result["forged"] == "WhatsAppAPIFailedToVerifyError"


def test_metas_nodejs_sdk_sends_replies_templates_and_receipts_through_kirem(
    server: Server, client: httpx.Client, node: str, tmp_path: Path
) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    approved_template(client, boot)
    inbound = customer_writes(client, boot)
    uploaded = client.post("/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=key)
    assert uploaded.status_code == 200, uploaded.text
    kirem_port = httpx.URL(server.url).port
    assert kirem_port is not None
    with tls_proxy(kirem_port, tmp_path) as front:
        result = run_node(
            node,
            "whatsapp_nodejs_sdk.cjs",
            {
                "WA_BASE_URL": "127.0.0.1",
                "KIREM_TLS_PORT": str(front.port),
                "NODE_EXTRA_CA_CERTS": str(front.certificate),
                "WA_PHONE_NUMBER_ID": boot["phone_number_id"],
                "CLOUD_API_ACCESS_TOKEN": boot["api_key"],
                "CLOUD_API_VERSION": "v23.0",
                "CUSTOMER": CUSTOMER,
                "INBOUND_WAMID": inbound,
                "TEMPLATE_NAME": TEMPLATE_NAME,
                "MEDIA_ID": uploaded.json()["data"]["id"],
            },
        )
    for name in ("text", "reply", "template", "image"):
        assert result[name]["status"] == 200, result[name]
        sent(result[name]["body"])
    assert result["template"]["body"]["messages"][0]["message_status"] == "accepted"
    assert result["read"] == {"status": 200, "body": {"success": True}}
