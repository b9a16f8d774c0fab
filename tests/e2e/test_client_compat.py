"""The Meta clients people run, replayed through Kirem: every row of tests/fixtures/meta_clients.json
(a client's real request and the answer fields it reads) through Graph-compatible mode and through
``/v1``, and the Python libraries themselves (pywa, heyoo) pointed at Kirem."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth
from tests.e2e.test_seed_examples import CUSTOMER, customer_writes, png_bytes
from tests.fixtures import meta_clients

ROWS = meta_clients()
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
TEMPLATE_NAME = "compat_order_update"


@dataclass
class World:
    """One project the rows run against: a customer who wrote, a media object and a template."""

    server: Server
    values: dict[str, str]

    @property
    def key(self) -> str:
        return self.values["key"]

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        inbound = customer_writes(http, boot)
        uploaded = http.post(
            f"/v23.0/{boot['phone_number_id']}/media",
            files={"file": ("photo.png", png_bytes(), "image/png")},
            data={"messaging_product": "whatsapp"},
            headers=auth(key),
        )
        assert uploaded.status_code == 200, uploaded.text
        template = {
            "name": TEMPLATE_NAME,
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Order {{1}} is on its way"}],
        }
        created = http.post(f"/v23.0/{boot['waba_id']}/message_templates", json=template, headers=auth(key))
        assert created.status_code == 200, created.text
    values = {
        "key": key,
        "phone_number_id": boot["phone_number_id"],
        "waba_id": boot["waba_id"],
        "media_id": uploaded.json()["id"],
        "customer": CUSTOMER,
        "inbound_wamid": inbound,
        "template_name": TEMPLATE_NAME,
    }
    return World(server, values)


def dig(body: Any, path: str) -> Any:
    """``messages.0.id`` in ``body``; ``KeyError`` naming the path when a step is missing."""
    value = body
    for step in path.split("."):
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            raise KeyError(f"{path}: no {step!r} in {str(value)[:300]}")
    return value


def request(http: httpx.Client, world: World, row: dict[str, Any], mode: str) -> httpx.Response:
    spec = row[mode]
    graph = row["graph"]
    headers: dict[str, str] = {}
    query = world.fill(spec.get("query", {}))
    token = graph["token"] if mode == "graph" else "bearer"
    if token == "bearer":
        headers = auth(world.key)
    elif token == "query":
        query["access_token"] = world.key
    kwargs: dict[str, Any] = {"params": query, "headers": headers}
    body = spec.get("json", graph.get("json"))
    if body is not None:
        kwargs["json"] = world.fill(body)
    if spec.get("file"):
        kwargs["files"] = {"file": ("photo.png", png_bytes(), "image/png")}
        kwargs["data"] = world.fill(spec.get("form", {}))
    elif "form" in spec:
        kwargs["data"] = world.fill(spec["form"])
    return http.request(spec["method"], world.fill(spec["path"]), **kwargs)


def answer_of(response: httpx.Response, mode: str, status: int) -> Any:
    """Meta's answer as is in Graph-compatible mode; Kirem's wrapper around it on ``/v1``."""
    assert response.status_code == status, response.text
    body = response.json()
    if mode == "graph":
        assert "error" not in body and "status" not in body, body
        return body
    assert body["status"] == status and isinstance(body["message"], str) and "data" in body, body
    return body


def read(body: Any, path: str, mode: str) -> Any:
    """A field the client reads; on ``/v1`` it is found beside ``data`` (lists, paging) or inside it."""
    if mode == "v1" and path.split(".", 1)[0] not in body:
        return dig(body["data"], path)
    return dig(body, path)


def follow(http: httpx.Client, world: World, first: Any, mode: str) -> list[Any]:
    """Every page, fetching ``paging.next`` as the client does (the URL as given, nothing added but
    the Bearer header on ``/v1``): the links must point at Kirem."""
    pages = [first]
    while isinstance(pages[-1].get("paging"), dict) and pages[-1]["paging"].get("next"):
        link = pages[-1]["paging"]["next"]
        assert link.startswith(world.server.url + "/"), link
        assert len(pages) < 50, "paging never ends"
        headers = auth(world.key) if mode == "v1" else {}
        pages.append(answer_of(http.get(link, headers=headers), mode, 200))
    return pages


@pytest.mark.parametrize("mode", ["graph", "v1"])
@pytest.mark.parametrize("row", ROWS, ids=[f"{r['client'].split(' ')[0]}:{r['case'][:50]}" for r in ROWS])
def test_a_clients_request_gets_the_answer_it_reads(
    world: World, client: httpx.Client, row: dict[str, Any], mode: str
) -> None:
    spec = row[mode]
    response = request(client, world, row, mode)
    if spec.get("raw"):
        assert response.status_code == spec["status"], response.text
        assert response.content == png_bytes()
        return
    body = answer_of(response, mode, spec["status"])
    reads = row.get("v1_reads", row["reads"]) if mode == "v1" else row["reads"]
    for path in reads:
        assert read(body, path, mode) is not None, (path, body)
    for path, expected in world.fill(row.get("first", {})).items():
        assert read(body, path, mode) == expected, (path, body)
    if mode == "graph" and "only_fields" in spec:
        at = spec.get("only_fields_at")
        items = [dig(body, at)] if at else body["data"]
        allowed = {*spec["only_fields"], "id"}
        assert items and all(set(item) <= allowed for item in items), body
    if spec.get("download"):
        downloaded = client.get(dig(body, spec["download"]), headers=auth(world.key))
        assert downloaded.status_code == 200 and downloaded.content == png_bytes()
    if spec.get("follow"):
        pages = follow(client, world, body, mode)
        names = [t["name"] for page in pages for t in page["data"]]
        assert len(pages) > 1 and len(names) == len(set(names)), names
        assert {"hello_world", TEMPLATE_NAME} <= set(names)


def test_every_row_names_its_client_its_source_and_the_behaviour_it_relies_on() -> None:
    clients = {row["client"].split(" ")[0] for row in ROWS}
    expected = {
        "chatwoot",
        "pywa",
        "heyoo",
        "whatsapp-nodejs-sdk",
        "whatsapp-api-js",
        "netflie/whatsapp-cloud-api",
    }
    assert expected <= clients
    for row in ROWS:
        assert row["source"] and row["case"] and row["relies_on"] and row["reads"], row
        assert {"graph", "v1"} <= set(row), row


# --- the libraries themselves --------------------------------------------------------------------


class ToKirem(httpx.HTTPTransport):
    """The two-line transport override: every request the library makes goes to Kirem instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = httpx.URL(base)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self.base.scheme, host=self.base.host, port=self.base.port)
        return super().handle_request(request)


def test_pywa_sends_reads_templates_and_media_through_kirem(world: World) -> None:
    from pywa import WhatsApp

    session = httpx.Client(transport=ToKirem(world.server.url), timeout=30)
    wa = WhatsApp(
        phone_id=world.values["phone_number_id"],
        token=world.key,
        session=session,
        waba_id=world.values["waba_id"],
        api_version="23.0",
    )
    sent = wa.send_message(to=CUSTOMER, text="Hello from pywa")
    assert sent.id.startswith("wamid.") and sent.input == CUSTOMER

    media_id = wa.upload_media(media=png_bytes(), mime_type="image/png", filename="photo.png").id
    url = wa.get_media_url(media_id)
    assert url.mime_type == "image/png" and url.url.startswith(world.server.url)
    assert wa.get_media_bytes(url=url.url) == png_bytes()

    assert wa.mark_message_as_read(world.values["inbound_wamid"]).success is True
    assert wa.get_business_profile().about is not None
    phone = wa.get_business_phone_number()
    assert phone.id == world.values["phone_number_id"] and phone.verified_name

    templates = wa.get_templates()
    assert {"hello_world", TEMPLATE_NAME} <= {t.name for t in templates}
    assert templates.total_count >= 2 and templates.message_template_limit > 0


def test_heyoo_sends_reads_and_deletes_media_through_kirem(world: World, tmp_path: Path) -> None:
    from heyoo import WhatsApp

    wa = WhatsApp(world.key, world.values["phone_number_id"])
    wa.base_url = f"{world.server.url}/v14.0"
    wa.v15_base_url = f"{world.server.url}/v15.0"
    wa.url = f"{wa.base_url}/{wa.phone_number_id}/messages"

    sent = wa.send_message("Hello from heyoo", CUSTOMER)
    assert sent is not None and sent["messages"][0]["id"].startswith("wamid.")

    image = tmp_path / "photo.png"
    image.write_bytes(png_bytes())
    uploaded = wa.upload_media(str(image))
    assert uploaded is not None
    url = wa.query_media_url(uploaded["id"])
    assert url is not None and url.startswith(world.server.url)
    saved = wa.download_media(url, "image/png", str(tmp_path / "copy"))
    assert saved is not None and Path(saved).read_bytes() == png_bytes()
    assert wa.delete_media(uploaded["id"]) == {"success": True}
    assert wa.query_media_url(uploaded["id"]) is None  # gone

    assert wa.mark_as_read(world.values["inbound_wamid"]) == {"success": True}
