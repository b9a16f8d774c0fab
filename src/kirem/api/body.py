"""Reading a request body with clear errors (415 wrong type, 400 malformed): JSON, a multipart
upload, or — on Graph-compatible paths, as Graph takes them — form fields."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from kirem.api.nul_guard import REASON as NUL_REASON
from kirem.api.nul_guard import nul_field
from kirem.api.responses import ApiError
from kirem.messaging.media import Upload


async def read_json(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise ApiError(
            415,
            "Unsupported content type: send a JSON body with 'Content-Type: application/json'",
            {"content_type": content_type or "missing"},
        )
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "Malformed JSON body", {"body": f"not valid JSON: {exc.msg}"}) from exc


async def read_json_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Validation failed", {"body": "must be a JSON object"})
    return body


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TOKEN_FIELD = "access_token"


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith(FORM_TYPES)


async def read_form(request: Request) -> FormData:
    """The form of a url-encoded or multipart body (parsed once, kept by the request)."""
    try:
        return await request.form()
    except MultiPartException as exc:
        raise ApiError(400, "Malformed multipart body", {"body": exc.message}) from exc


async def read_graph_body(request: Request) -> Any:
    """A Graph POST body as Graph takes it: JSON, or form fields (url-encoded or multipart) with
    the JSON-valued ones (``text``, ``template``, ``components``, ``websites``…) given as JSON
    text and ``true``/``false`` as booleans. The ``access_token`` field is the credential, not part
    of the body; every other field is kept, for the same checks as a JSON body (a NUL included,
    which the NUL guard cannot see in a form)."""
    if not is_form(request):
        if "json" not in request.headers.get("content-type", "").lower():
            raise ApiError(
                415,
                "Unsupported content type: send JSON ('Content-Type: application/json') or form fields "
                "(application/x-www-form-urlencoded or multipart/form-data)",
                {"content_type": request.headers.get("content-type") or "missing"},
            )
        return await read_json(request)
    body: dict[str, Any] = {}
    for name, value in (await read_form(request)).multi_items():
        if name == TOKEN_FIELD:
            continue
        if not isinstance(value, str):
            raise ApiError(
                400, "Validation failed", {name: "must be a form field, not a file"}, meta_code=100
            )
        body[name] = form_value(value)
    if (field := nul_field(body)) is not None:
        raise ApiError(400, "Validation failed", {field: NUL_REASON}, meta_code=100)
    return body


def form_value(value: str) -> Any:
    """A form field's value as Graph reads it: a JSON object or array, a boolean, else the text."""
    text = value.strip()
    if text in ("true", "false"):
        return text == "true"
    if text[:1] in ("{", "["):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return value
    return value


async def read_upload(request: Request) -> Upload:
    """The ``file`` part of a multipart form (``messaging_product``, if sent, must be whatsapp)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            "Unsupported content type: upload multipart/form-data with fields 'file' and 'messaging_product'",
            {"content_type": content_type or "missing"},
        )
    form = await read_form(request)
    product = form.get("messaging_product", "whatsapp")
    if product != "whatsapp":
        raise ApiError(400, "Validation failed", {"messaging_product": "must be 'whatsapp'"})
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise ApiError(400, "Validation failed", {"file": "a file part named 'file' is required"})
    filename = part.filename or "upload"
    if "\x00" in filename or "\x00" in (part.content_type or ""):
        raise ApiError(
            400, "Validation failed", {"file": "its filename and type must not contain NUL characters"}
        )
    return Upload(filename=filename, content_type=part.content_type, content=await part.read())
