"""Reading a JSON request body with clear errors (415 wrong type, 400 malformed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from kirem.api.responses import ApiError


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


@dataclass
class Upload:
    filename: str
    content_type: str | None
    content: bytes


async def read_upload(request: Request) -> Upload:
    """The ``file`` part of a multipart form (``messaging_product``, if sent, must be whatsapp)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            "Unsupported content type: upload multipart/form-data with fields 'file' and 'messaging_product'",
            {"content_type": content_type or "missing"},
        )
    try:
        form = await request.form()
    except MultiPartException as exc:
        raise ApiError(400, "Malformed multipart body", {"body": exc.message}) from exc
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
