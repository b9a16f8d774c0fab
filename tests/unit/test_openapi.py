"""The published OpenAPI document tells the truth about the public API's routes."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from kirem.api.schemas import ErrorBody, error_example
from kirem.app import create_app
from kirem.config import Settings
from kirem.conversations.schemas import Reply
from kirem.delivery.schemas import BulkReplay
from kirem.messaging.schemas import ProfileUpdate, ReadReceipt, SendMessage, TemplateCreate
from kirem.routing import schemas as routing_schemas
from kirem.routing.conditions import EVENT_TYPES
from tests.fixtures import seed_examples

DOMAINS = (
    "/v1/messages",
    "/v1/{phone_number_id}/messages",
    "/v1/media",
    "/v1/templates",
    "/v1/profile",
    "/v1/conversations",
    "/v1/contacts",
    "/v1/analytics",
    "/v1/usage",
    "/v1/manage/usage",
    "/v1/webhooks",
    "/v1/events",
    "/healthz",
    "/readyz",
)
BODILESS_POSTS = {
    "/v1/webhooks/targets/{target_id}/test",
    "/v1/webhooks/secret/rotate",
    "/v1/webhooks/deliveries/{delivery_id}/replay",
    "/v1/events/{event_id}/replay",
}
"""POSTs that act on the object in their path and read no body."""


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", sandbox=True, data_dir=data_dir)
    return create_app(settings).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith(DOMAINS)
        for method, operation in item.items()
    ]
    assert len(found) >= 40
    return found


def _examples(content: dict[str, Any]) -> list[Any]:
    found = []
    for media in content.values():
        if "example" in media:
            found.append(media["example"])
        found.extend(example["value"] for example in media.get("examples", {}).values())
    return found


def _request_examples(document: dict[str, Any], method: str, path: str) -> list[Any]:
    return _examples(document["paths"][path][method]["requestBody"]["content"])


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_no_operation_lists_fastapis_422(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and "ValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        refusal = operation["responses"].get("422")
        assert refusal is None or "ErrorBody" in json.dumps(refusal), (method, path)


def test_every_operation_has_typed_answers_its_errors_and_an_example(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        answers = operation["responses"]
        successes = [code for code in answers if code.startswith("2")]
        assert successes, where
        for code in successes:
            assert any(media.get("schema") for media in answers[code]["content"].values()), (where, code)
        errors = [code for code in answers if code[0] in "45"]
        assert errors or path == "/healthz", where
        for code in errors:
            schema = answers[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (where, code)
        examples = [e for answer in answers.values() for e in _examples(answer.get("content", {}))]
        if "requestBody" in operation:
            examples += _examples(operation["requestBody"]["content"])
        assert examples, where
        if operation.get("security"):
            assert {"401", "403", "429"} <= set(answers), where
        if method in ("post", "patch") and path not in BODILESS_POSTS:
            body = operation["requestBody"]["content"]
            assert all(media["schema"]["$ref"].startswith("#/components/schemas/") for media in body.values())
        for parameter in operation.get("parameters", []):
            assert parameter["schema"].get("type") or parameter["schema"].get("anyOf"), (where, parameter)


def test_every_error_example_is_in_the_error_wrapper() -> None:
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503):
        example = error_example(status)
        assert ErrorBody.model_validate(example).status == status


def test_credentials_are_bearer_schemes_on_the_operations_that_need_them(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {name: scheme["scheme"] for name, scheme in schemes.items()} == {
        "apiKey": "bearer",
        "accountToken": "bearer",
        "operatorToken": "bearer",
    }
    paths = document["paths"]
    assert paths["/v1/messages"]["post"]["security"] == [{"apiKey": []}]
    assert paths["/v1/manage/usage"]["get"]["security"] == [{"accountToken": []}]
    assert "security" not in paths["/healthz"]["get"]
    operator = [op for path, item in paths.items() if path.startswith("/v1/operator") for op in item.values()]
    assert operator and all(op["security"] == [{"operatorToken": []}] for op in operator)


def test_tags_are_described(document: dict[str, Any]) -> None:
    described = {tag["name"] for tag in document["tags"]}
    used = {tag for _, _, operation in _operations(document) for tag in operation["tags"]}
    assert used <= described


def test_typed_query_parameters(document: dict[str, Any]) -> None:
    parameters = {
        p["name"]: p["schema"] for p in document["paths"]["/v1/analytics/webhooks"]["get"]["parameters"]
    }
    assert parameters["limit"].items() >= {"type": "integer", "minimum": 1, "maximum": 500}.items()
    assert parameters["is_success"]["enum"] == ["true", "false", "1", "0"]
    assert parameters["event"]["enum"] == list(EVENT_TYPES)
    assert parameters["since"]["anyOf"][0] == {"type": "string", "format": "date-time"}


def test_the_seeds_examples_are_published(document: dict[str, Any]) -> None:
    seed = seed_examples()
    assert _request_examples(document, "post", "/v1/messages") == seed["send_message"][:2]
    assert _request_examples(document, "post", "/v1/messages/read") == seed["read_receipt"]
    assert _request_examples(document, "post", "/v1/profile") == seed["business_profile_update"][:1]
    assert _request_examples(document, "post", "/v1/templates") == seed["message_template_create"][:1]
    sent = document["paths"]["/v1/messages"]["post"]["responses"]["201"]["content"]["application/json"]
    assert sent["example"]["message"] == "Message sent successfully"


@pytest.mark.parametrize(
    ("model", "bodies"),
    [
        (SendMessage, lambda seed: seed["send_message"]),
        (ReadReceipt, lambda seed: seed["read_receipt"]),
        (ProfileUpdate, lambda seed: seed["business_profile_update"]),
        (TemplateCreate, lambda seed: seed["message_template_create"]),
        (Reply, lambda seed: seed["send_message_without_to"]),
    ],
)
def test_the_models_take_every_body_the_seed_sends(model: type[BaseModel], bodies: Any) -> None:
    for body in bodies(seed_examples()):
        model.model_validate(body)


def test_send_bodies_stay_open_to_fields_meta_accepts() -> None:
    body = {"to": "62812345678", "text": {"body": "Halo"}, "biz_opaque_callback_data": "x", "future": 1}
    assert SendMessage.model_validate(body).model_extra == {"future": 1}


def test_strict_bodies_publish_that_unknown_fields_are_refused(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("TargetCreate", "TargetUpdate", "RuleCreate", "RuleUpdate", "Conditions", "BulkReplay"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["SendMessage"]["additionalProperties"] is True
    assert BulkReplay.model_validate({"is_success": "false", "since": 1764460800}).since == 1764460800


def test_published_event_types_are_the_routers() -> None:
    assert typing.get_args(routing_schemas.EventType) == EVENT_TYPES
