"""The published OpenAPI document describes the management and operator APIs, setup links, Meta's
receiver, the Graph-compatible paths, MCP and the sandbox as they answer."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest

from kirem.app import create_app
from kirem.config import Settings
from kirem.tenancy.plans import PLANS
from kirem.tenancy.schemas import PlanName
from tests.fixtures import seed_examples

WRAPPED = ("/v1/manage/", "/v1/operator/", "/v1/setup-links", "/webhooks/meta")
META_SHAPED = ("/v{version}/", "/sandbox/")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", sandbox=True, data_dir=data_dir)
    return create_app(settings).openapi()


def operations(document: dict[str, Any], prefixes: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith(prefixes)
        for method, operation in item.items()
    ]
    assert found
    return found


def schema_ref(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"].get("$ref", ""))


def test_mcp_sandbox_and_contacts_are_in_the_document(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in ("/v1/mcp", "/v1/mcp/{project_slug}", "/v1/contacts", "/sandbox/v1/inbound"):
        assert path in paths, path
    assert len([path for path in paths if path.startswith("/sandbox/")]) >= 15
    assert paths["/v1/mcp"]["post"]["security"] == [{"apiKey": []}]
    rpc = paths["/v1/mcp"]["post"]["requestBody"]["content"]["application/json"]
    assert rpc["schema"] == {"$ref": "#/components/schemas/JsonRpcRequest"}
    assert rpc["example"]["method"] == "tools/call"
    assert {"JsonRpcRequest", "JsonRpcAnswer", "JsonRpcError"} <= set(document["components"]["schemas"])


def test_graph_paths_declare_their_version(document: dict[str, Any]) -> None:
    for _, path, operation in operations(document, ("/v{version}/",)):
        declared = {p["name"]: p for p in operation["parameters"] if p["in"] == "path"}
        assert declared["version"]["required"] is True, path
        assert declared["version"]["schema"]["examples"] == ["23.0"]


def test_wrapped_operations_answer_typed_bodies_and_their_errors_in_the_wrapper(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document, WRAPPED):
        answers = operation["responses"]
        success = [code for code in answers if code.startswith("2")]
        assert success, f"{method} {path}"
        if (method, path) != ("get", "/webhooks/meta"):  # the handshake echoes text
            assert "Envelope" in schema_ref(answers[success[0]]), f"{method} {path}"
        errors = [code for code in answers if code[0] in "45"]
        assert errors, f"{method} {path} declares no error"
        for code in errors:
            assert schema_ref(answers[code]) == "#/components/schemas/ErrorBody", f"{method} {path} {code}"
            assert answers[code]["content"]["application/json"]["example"]["status"] == int(code)


def test_meta_shaped_operations_answer_errors_in_metas_body(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document, META_SHAPED):
        errors = [code for code in operation["responses"] if code[0] in "45"]
        if path.startswith("/sandbox/v1/"):
            errors = [code for code in errors if code != "403"] or errors  # the simulator's guard
        assert errors, f"{method} {path}"
        for code in errors:
            answer = operation["responses"][code]
            assert schema_ref(answer) == "#/components/schemas/GraphErrorBody", f"{method} {path} {code}"


def test_every_body_is_described_with_an_example(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document, WRAPPED + META_SHAPED):
        body = operation.get("requestBody")
        if body is None or "multipart/form-data" in body["content"]:
            continue
        media = body["content"]["application/json"]
        assert media["schema"]["$ref"].startswith("#/components/schemas/"), f"{method} {path}"
        assert "example" in media or "examples" in media, f"{method} {path}"
    takes_a_body = [
        ("post", "/v1/manage/projects"),
        ("put", "/v1/manage/projects/{project_id}/egress"),
        ("post", "/v1/manage/projects/{project_id}/channels"),
        ("put", "/v1/manage/projects/{project_id}/sla"),
        ("post", "/v1/operator/accounts"),
        ("patch", "/v1/operator/accounts/{account_id}"),
        ("post", "/v1/setup-links"),
        ("post", "/webhooks/meta"),
        ("post", "/v{version}/{phone_number_id}/messages"),
        ("post", "/v{version}/{phone_number_id}/media"),
        ("post", "/sandbox/v1/inbound"),
    ]
    for method, path in takes_a_body:
        assert "requestBody" in document["paths"][path][method], f"{method} {path}"


def test_graph_bodies_are_the_seeds_and_taken_as_json_or_form_fields(document: dict[str, Any]) -> None:
    seed = seed_examples()
    send = document["paths"]["/v{version}/{phone_number_id}/messages"]["post"]["requestBody"]["content"]
    assert set(send) == {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}
    assert send["application/json"]["example"] in seed["send_message"]
    template = document["paths"]["/v{version}/{waba_id}/message_templates"]["post"]["requestBody"]
    assert template["content"]["application/json"]["example"] in seed["message_template_create"]


def test_the_published_plan_names_are_the_plan_tables() -> None:
    assert set(typing.get_args(PlanName)) == set(PLANS)


def test_the_operator_api_asks_for_the_operator_token(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document, ("/v1/operator/",)):
        assert operation["security"] == [{"operatorToken": []}], f"{method} {path}"
    for method, path, operation in operations(document, ("/v1/manage/projects",)):
        assert operation["security"] == [{"accountToken": []}], f"{method} {path}"
