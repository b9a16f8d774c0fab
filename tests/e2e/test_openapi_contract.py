"""Every operation of the published OpenAPI document, called on the real server: each answer must
be one the document describes (declared status and media type, a body valid against its schema).

Kirem's operations are called with their documented requests (``tests/e2e/fuzz_schemas.py``) on
a project bootstrapped as for the fuzzer, and must succeed; Meta's receiver with a signed event
and a correct handshake; the sandbox's operations with a number signed up through its emulated
Embedded Signup (its token from the code exchange) and the customer simulator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kirem.sandbox.onboarding import SANDBOX_APP_ID
from tests.conftest import ENGINES
from tests.e2e import fuzz_schemas
from tests.e2e.conftest import Server, auth, serving
from tests.e2e.openapi_check import Contract, Operation
from tests.e2e.test_fuzz import bootstrap, credential, resolve

SANDBOX_SECRET = "sandbox-app-secret-contract"
META_SECRET = "meta-app-secret-e2e"  # what tests/e2e/conftest.py starts the server with
VERIFY_TOKEN = "verify-e2e"
SANDBOX_VERSION = "v" + fuzz_schemas.GRAPH_VERSION


@pytest.fixture(scope="module", params=ENGINES)
async def contract_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    tmp = tmp_path_factory.mktemp(f"contract-{request.param}")
    env = {"KIREM_RATE_LIMIT_PER_SECOND": "100000", "KIREM_SANDBOX_APP_SECRET": SANDBOX_SECRET}
    async with serving(request.param, tmp, **env) as srv:
        yield srv


class Calls:
    """Requests sent through the contract: every answer checked, every operation counted."""

    def __init__(self, http: httpx.Client, contract: Contract) -> None:
        self.http = http
        self.contract = contract
        self.problems: list[str] = []
        self.called: set[str] = set()

    def send(self, method: str, path: str, **options: Any) -> httpx.Response:
        response = self.http.request(method, path, **options)
        operation = self.contract.operation(method, urlsplit(str(response.request.url)).path)
        if operation is not None:
            self.called.add(operation.name)
        self.problems += self.contract.problems(response)
        return response


def sandbox_number(calls: Calls, server: Server) -> dict[str, str]:
    """A number signed up in the sandbox's Embedded Signup popup, with the token its code buys."""
    finished = calls.send(
        "POST",
        "/sandbox/embedded-signup",
        data={
            "state": "contract",
            "redirect_uri": f"{server.url}/setup/callback",
            "business_name": "Kontrak",
        },
    )
    assert finished.status_code == 303, finished.text
    back = {key: values[0] for key, values in parse_qs(urlsplit(finished.headers["location"]).query).items()}
    exchange = {"client_id": SANDBOX_APP_ID, "client_secret": SANDBOX_SECRET, "code": back["code"]}
    token = calls.send("GET", f"/sandbox/{SANDBOX_VERSION}/oauth/access_token", params=exchange)
    assert token.status_code == 200, token.text
    number = {"token": token.json()["access_token"], "waba_id": back["waba_id"]}
    number["phone_number_id"] = back["phone_number_id"]
    upload = calls.send(
        "POST",
        f"/sandbox/{SANDBOX_VERSION}/{number['phone_number_id']}/media",
        files={"file": ("pixel.png", fuzz_schemas.PNG, "image/png")},
        data={"messaging_product": "whatsapp"},
        headers=auth(number["token"]),
    )
    assert upload.status_code == 200, upload.text
    number["media_id"] = upload.json()["id"]
    return number


def sandbox_request(operation: Operation, ids: dict[str, Any], number: dict[str, str]) -> dict[str, Any]:
    """The path and options of a request to one of the sandbox's operations."""
    own = {"phone_number_id": number["phone_number_id"], "waba_id": number["waba_id"]}
    values = {
        "version": SANDBOX_VERSION,
        **own,
        "media_id": number["media_id"],
        "object_id": number["media_id"] if operation.method == "delete" else number["phone_number_id"],
    }
    path = operation.path.format(**values)
    options: dict[str, Any] = {"headers": auth(number["token"])}
    simulated = {"phone_number_id": ids["phone_number_id"]}
    text = {"type": "text", "text": {"body": "Halo"}}
    bodies: dict[str, Any] = {
        "/sandbox/v1/inbound": {**simulated, "from": fuzz_schemas.CUSTOMER, "message": text},
        "/sandbox/v1/echo": {**simulated, "to": fuzz_schemas.CUSTOMER, "message": text},
        "/sandbox/v1/history": {**simulated, "threads": [{"id": fuzz_schemas.CUSTOMER, "messages": []}]},
        "/sandbox/v1/contacts": {
            **simulated,
            "contacts": [{"phone_number": fuzz_schemas.CUSTOMER, "full_name": "Budi Santoso"}],
        },
        "/sandbox/{version}/{phone_number_id}/messages": {
            "messaging_product": "whatsapp",
            "to": fuzz_schemas.CUSTOMER,
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        },
        "/sandbox/{version}/{phone_number_id}/register": {"messaging_product": "whatsapp", "pin": "123456"},
        "/sandbox/{version}/{phone_number_id}/smb_app_data": {
            "messaging_product": "whatsapp",
            "sync_type": "smb_app_state_sync",
        },
    }
    if operation.method == "post" and operation.path.endswith("/message_templates"):
        options["json"] = fuzz_schemas.DOCUMENTED[("post", "/v1/templates")]["body"]
    elif operation.method == "post" and operation.path.endswith("/whatsapp_business_profile"):
        options["json"] = {"messaging_product": "whatsapp", "about": "Kontrak"}
    elif operation.method == "delete" and operation.path.endswith("/message_templates"):
        options["params"] = {"name": fuzz_schemas.DOCUMENTED[("post", "/v1/templates")]["body"]["name"]}
    elif operation.path == "/sandbox/embedded-signup":
        options["params"] = {"app_id": SANDBOX_APP_ID, "state": "contract", "redirect_uri": "/setup/callback"}
    elif operation.path in bodies:
        options["json"] = bodies[operation.path]
    return {"path": path, **options}


def kirem_request(operation: Operation, ids: dict[str, Any], server: Server) -> dict[str, Any]:
    """The documented request of one of Kirem's operations, with the bootstrap's ids."""
    key = (operation.method, operation.path)
    values = fuzz_schemas.path_values(*key)
    path = operation.path.format(**resolve(values, ids))
    example = resolve(fuzz_schemas.DOCUMENTED.get(key, {}), ids)
    options: dict[str, Any] = {"headers": credential(ids, path), "params": example.get("query")}
    body = example.get("body")
    if operation.path == "/webhooks/meta" and operation.method == "get":
        options["params"] = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    elif operation.path == "/webhooks/meta":
        raw = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
        signature = "sha256=" + hmac.new(META_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        options["content"] = raw
        options["headers"] = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    elif isinstance(body, dict) and "file" in body:
        options["files"] = {"file": ("pixel.png", body["file"], "image/png")}
        options["data"] = {k: v for k, v in body.items() if k != "file"}
    elif body is not None:
        options["json"] = body
    return {"path": path, **options}


def test_every_operation_answers_as_the_document_says(contract_server: Server) -> None:
    with httpx.Client(base_url=contract_server.url, timeout=30) as http:
        contract = Contract(http.get("/openapi.json").json())
        ids = bootstrap(contract_server, http)
        calls = Calls(http, contract)
        number = sandbox_number(calls, contract_server)
        operations = sorted(contract.operations(), key=lambda op: op.method == "delete")
        refused: list[str] = []
        for operation in operations:
            if operation.name in calls.called:
                continue  # sent while signing the sandbox number up
            if operation.path.startswith("/sandbox/"):
                request = sandbox_request(operation, ids, number)
            else:
                request = kirem_request(operation, ids, contract_server)
            path = request.pop("path")
            response = calls.send(operation.method.upper(), path, **request)
            if response.status_code >= 300 and not operation.path.startswith("/sandbox/"):
                refused.append(f"{operation.name}: {response.status_code} {response.text[:300]}")
    assert not calls.problems, "\n".join(calls.problems)
    assert not refused, "\n".join(refused)
    assert {operation.name for operation in contract.operations()} <= calls.called
