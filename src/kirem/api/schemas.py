"""The API's published shapes: the response wrappers, the error wrapper and the helpers routes use
to declare their request bodies, typed query parameters and error answers in the OpenAPI document.

Routes keep validating with their own rules (the seed's exact field messages); these models only
describe, so what is published is what those rules accept. Request-body models are registered
here by :func:`request_body` and written into ``components.schemas`` by :mod:`kirem.api.openapi`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import Query
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

API_KEY = HTTPBearer(
    scheme_name="apiKey",
    bearerFormat="kirem_live_… / kirem_test_…",
    description="A project's API key: `Authorization: Bearer kirem_…`",
    auto_error=False,
)
ACCOUNT_TOKEN = HTTPBearer(
    scheme_name="accountToken",
    bearerFormat="kirem_acct_…",
    description="An account token, for the management API: `Authorization: Bearer kirem_acct_…`",
    auto_error=False,
)
OPERATOR_TOKEN = HTTPBearer(
    scheme_name="operatorToken",
    description="The operator token (`KIREM_OPERATOR_TOKEN`), for the operator API",
    auto_error=False,
)
"""The bearer credentials, declared (``Security(API_KEY)``) by the dependencies that check them so
that each operation publishes what it needs; the checking itself stays in :mod:`kirem.api.deps`."""

JSON = "application/json"


class Envelope(BaseModel, Generic[T]):
    """The success wrapper of every ``/v1`` answer: ``{status, message, data}``."""

    status: int = Field(description="The HTTP status, repeated")
    message: str = Field(description="What happened, in words")
    data: T


class Paging(BaseModel):
    """Meta's cursor paging, its ``next``/``previous`` links pointing back at Kirem."""

    model_config = ConfigDict(extra="allow")

    cursors: dict[str, str] | None = Field(None, description="``before`` and ``after`` cursors")
    next: str | None = Field(None, description="The next page, where there is one")
    previous: str | None = Field(None, description="The previous page, where there is one")


class PagedEnvelope(Envelope[T], Generic[T]):
    """The success wrapper of a list paged with Meta's cursors: ``paging`` beside ``data``."""

    paging: Paging | None = Field(None, description="Present when Meta answered with cursors")


class ErrorBody(BaseModel):
    """The error wrapper of every ``/v1`` refusal: ``{status, message, errors}``."""

    status: int = Field(description="The HTTP status, repeated")
    message: str = Field(description="Why the request was refused")
    errors: dict[str, Any] = Field(
        description="Field name → what is wrong with it (empty when no field is to blame)"
    )


class Success(BaseModel):
    """``{"success": true}``: the answer of an action with nothing else to report."""

    success: bool = True


ERROR_DESCRIPTIONS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "Validation failed: `errors` names each offending field",
        {
            "message": "Validation failed",
            "errors": {"text": 'a "text" object is required for a text message'},
        },
    ),
    401: (
        "Missing, unknown or revoked credential (`WWW-Authenticate: Bearer`)",
        {"message": "Missing API key", "errors": {"authorization": "send 'Authorization: Bearer <key>'"}},
    ),
    403: (
        "The credential may not do this: plan, key scope, test key, or IP allowlist",
        {
            "message": "This API key works only on the REST API and /v1/mcp",
            "errors": {"authorization": "scope mcp"},
        },
    ),
    404: (
        "No such object in this project (a foreign id is not found either)",
        {"message": "Target not found"},
    ),
    405: ("The path does not take this method", {"message": "Method not allowed"}),
    409: (
        "Conflicts with the object's current state",
        {"message": "This project has no active channel; connect a WhatsApp number first"},
    ),
    410: ("Existed once, no longer usable", {"message": "This setup link has expired"}),
    413: ("Request body too large", {"message": "Request body too large"}),
    415: ("Unsupported content type", {"message": "Unsupported content type"}),
    424: (
        "Meta could not be reached to check the request",
        {
            "message": "Could not reach Meta to verify the channel; try again, or connect it unchecked "
            'with "verify": false',
            "errors": {"meta": "timeout"},
        },
    ),
    422: (
        "The Idempotency-Key was already used with a different request",
        {
            "message": "Idempotency-Key was already used with a different request (body, path or key mode)",
            "errors": {"idempotency_key": "use a new key for a different request"},
        },
    ),
    429: (
        "Rate limit or quota exceeded (`Retry-After` says when to try again)",
        {"message": "Rate limit exceeded: at most 10 requests/s per key", "errors": {"retry_after": 1}},
    ),
    502: (
        "Meta is unavailable",
        {"message": "Meta API is unavailable, try again", "errors": {"meta": "timeout"}},
    ),
    503: ("Kirem cannot take the request now (`Retry-After` says when)", {"message": "Service unavailable"}),
}


def error_example(status: int) -> dict[str, Any]:
    """An example error wrapper for ``status``."""
    _, example = ERROR_DESCRIPTIONS.get(status, ("", {"message": "Request failed"}))
    return {"status": status, "message": example["message"], "errors": example.get("errors", {})}


def responses(*status_codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries of a route: each code answered in the error wrapper with an example.

    ``descriptions`` override the generic text of a code for one route (``r404="Target not found"``).
    """
    entries: dict[int | str, dict[str, Any]] = {}
    for code in status_codes:
        default, _ = ERROR_DESCRIPTIONS.get(code, ("Request failed", {}))
        entries[code] = {
            "model": ErrorBody,
            "description": descriptions.get(f"r{code}", default),
            "content": {JSON: {"example": error_example(code)}},
        }
    return entries


def json_only(entries: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """``responses()`` entries for a route whose success is not JSON (text, HTML, a file, a
    redirect): ``model=`` would publish its errors in that media type, so they name their schema
    (already among the components) themselves."""
    plain: dict[int | str, dict[str, Any]] = {}
    for code, entry in entries.items():
        media = dict(entry["content"][JSON])
        media["schema"] = {"$ref": f"#/components/schemas/{entry['model'].__name__}"}
        plain[code] = {"description": entry["description"], "content": {JSON: media}}
    return plain


AUTHENTICATED = (401, 403, 429)
"""What any route behind a credential may answer: bad credential, refused one, rate limit."""
IDEMPOTENT = (400, 409, 422)
"""What an ``Idempotency-Key`` adds: a malformed key, the same key in flight, a key reused."""
BODY = (400, 413, 415)
"""What a JSON body may be refused for: invalid, too large, not JSON."""

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same request again with the same key to get the first answer back "
    "(`Idempotent-Replayed: true`) instead of doing it twice; 1 to 255 characters, kept "
    "`KIREM_IDEMPOTENCY_TTL_SECONDS` (24 hours by default)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def idempotency() -> dict[str, Any]:
    """``openapi_extra`` fragment of a route wrapped in :func:`kirem.api.idempotency.idempotent`."""
    return {"parameters": [IDEMPOTENCY_KEY]}


def operation(*fragments: dict[str, Any]) -> dict[str, Any]:
    """One ``openapi_extra`` from fragments (:func:`request_body`, :func:`idempotency`)."""
    merged: dict[str, Any] = {}
    for fragment in fragments:
        for key, value in fragment.items():
            if key == "parameters":
                merged["parameters"] = [*merged.get("parameters", []), *value]
            else:
                merged[key] = value
    return merged


def answer(status: int, example: Any, description: str | None = None) -> dict[int | str, dict[str, Any]]:
    """A ``responses=`` entry giving the success answer of ``status`` its example (the route's
    ``response_model`` gives its schema; another status needs ``model`` too, see :func:`also`)."""
    entry: dict[str, Any] = {"content": {JSON: {"example": example}}}
    if description:
        entry["description"] = description
    return {status: entry}


def also(status: int, model: Any, example: Any, description: str) -> dict[int | str, dict[str, Any]]:
    """A second success status of a route (a send that was a read receipt answers 200, not 201)."""
    return {status: {"model": model, "description": description, "content": {JSON: {"example": example}}}}


def wrapped(message: str, data: Any, status: int = 200, **beside: Any) -> dict[str, Any]:
    """An example answer in the success wrapper."""
    return {"status": status, "message": message, "data": data, **beside}


_request_models: dict[str, type[BaseModel]] = {}


def request_models() -> dict[str, type[BaseModel]]:
    """Every model named by :func:`request_body`, by its component name."""
    return dict(_request_models)


def request_body(
    model: type[BaseModel],
    example: Any = None,
    *,
    examples: dict[str, Any] | None = None,
    media_type: str = JSON,
    required: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """``openapi_extra=`` of a route whose handler reads its body itself (to keep its own messages).

    The model goes into ``components.schemas`` under its class name; ``examples`` are named
    examples (``{"seed": {...}}``), ``example`` a single one.
    """
    known = _request_models.setdefault(model.__name__, model)
    if known is not model:
        raise ValueError(f"two request models are named {model.__name__}: {known!r} and {model!r}")
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    if example is not None:
        content["example"] = example
    if examples:
        content["examples"] = {name: {"value": value} for name, value in examples.items()}
    body: dict[str, Any] = {"required": required, "content": {media_type: content}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def replace_schema(schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` that publishes ``schema`` instead of the generated one (a value read
    as text by its own rules, published as what those rules accept)."""

    def replace(generated: dict[str, Any]) -> None:
        kept: dict[str, Any] = {key: generated[key] for key in ("title", "description") if key in generated}
        generated.clear()
        generated.update(schema)
        generated.update(kept)

    return replace


def typed_query(schema: dict[str, Any], description: str, alias: str | None = None) -> Any:
    """An optional query parameter read as text (the route checks it, with its own messages)
    but published with the JSON schema of what is accepted: ``typed_query({"type": "integer",
    "minimum": 1}, "Page size")``."""
    return Query(None, description=description, alias=alias, json_schema_extra=replace_schema(schema))


def integer(minimum: int | None = None, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def one_of(values: tuple[str, ...] | list[str] | frozenset[str]) -> dict[str, Any]:
    return {"type": "string", "enum": sorted(values) if isinstance(values, frozenset) else list(values)}


TIMESTAMP: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "integer", "minimum": 0, "maximum": 253402300799, "description": "Unix seconds"},
    ]
}
"""What ``since``/``until`` accept: ISO 8601 (``2026-06-26``, ``2026-06-26T00:20:00Z``) or Unix seconds."""
BOOLEAN: dict[str, Any] = {"type": "string", "enum": ["true", "false", "1", "0"]}
"""What a boolean query parameter accepts (any case)."""
