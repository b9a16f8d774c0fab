"""NUL characters are refused once, at the edge of the app (:mod:`kirem.api.middleware`), for every route.

PostgreSQL cannot store U+0000 in text or JSON, and no WhatsApp text needs one, so a NUL anywhere
in a request's path, in a query parameter, or in a string (or key) of a JSON body is answered 400
naming the field (``text.body``, ``components[0]``, the query parameter, ``path``) — on both engines,
before any route runs. Kirem's own paths answer in the error wrapper; Graph-compatible paths
(``/v<major>.<minor>/…``) and the sandbox (``/sandbox/…``) answer Meta's error body.

Meta's own webhooks (``POST /webhooks/meta``) are never refused: their NULs are replaced when the
stored body is normalised (:mod:`kirem.inbound.normalize`). Multipart uploads are checked by
:func:`kirem.api.body.read_upload`, and form bodies on Graph-compatible paths, once decoded, by
:func:`kirem.api.body.read_graph_body`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from kirem.api.graph_errors import GraphError, is_graph_path
from kirem.api.responses import WrappedJSON, error_body
from kirem.sandbox.errors import invalid_parameter

NUL = "\x00"
NUL_ESCAPE = b"\\u0000"
"""The only way a JSON text can carry a NUL (a raw control character is not valid JSON)."""
REASON = "must not contain NUL characters (\\u0000)"
EXEMPT = frozenset({"/webhooks/meta"})
_SANDBOX_PREFIX = "/sandbox/"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def query_field(query_string: bytes) -> str | None:
    """The first query parameter holding a NUL (``query`` when it is in a parameter's name)."""
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if NUL in name:
            return "query"
        if NUL in value:
            return name
    return None


def json_field(body: bytes) -> str | None:
    """Where the first NUL of a JSON body is (``text.body``, ``items[2]``); None when there is none."""
    if NUL_ESCAPE not in body:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # the route answers malformed JSON itself
    return nul_field(document)


def nul_field(document: Any) -> str | None:
    """Where the first NUL of a decoded body is (a string or a key), in the same terms."""
    try:
        return _find(document, "")
    except RecursionError:
        return "body"


def _find(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return (where or "body") if NUL in value else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _find(item, f"{where}[{index}]")) is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return where or "body"
            if (found := _find(item, f"{where}.{key}" if where else key)) is not None:
                return found
    return None


def refusal(scope: Scope, field: str, *, in_query: bool) -> Response:
    """The 400 for ``field``: Meta's error body on Meta's paths, Kirem's wrapper elsewhere."""
    path = scope["path"]
    if path.startswith(_SANDBOX_PREFIX):
        return invalid_parameter(f"{field} {REASON}").response()
    if is_graph_path(path):
        request_id = (scope.get("state") or {}).get("request_id")
        return GraphError(400, 100, "(#100) Invalid parameter", details={field: REASON}).response(request_id)
    message = "Invalid query parameters" if in_query else "Validation failed"
    return WrappedJSON(error_body(400, message, {field: REASON}), status_code=400)


async def nul_refusal(scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
    """The 400 for a NUL in the request (``None`` when it has none), and the ``receive`` to go on with.

    An HTTP request only; a JSON body is read whole here, and the ``receive`` returned replays it.
    """
    path = scope["path"]
    if path in EXEMPT:
        return None, receive
    if NUL in path:
        return refusal(scope, "path", in_query=False), receive
    if (field := query_field(scope.get("query_string") or b"")) is not None:
        return refusal(scope, field, in_query=True), receive
    if scope.get("method") not in _BODY_METHODS or _is_multipart(scope):
        return None, receive
    body, replay = await _buffered(receive)
    if (field := json_field(body)) is not None:
        return refusal(scope, field, in_query=False), replay
    return None, replay


def _is_multipart(scope: Scope) -> bool:
    headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
    for name, value in headers:
        if name == b"content-type":
            return value.lower().startswith(b"multipart/")
    return False


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the outer middleware has bounded its size) and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replaying(message, receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replaying({"type": "http.request", "body": body, "more_body": False}, receive)


def _replaying(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
