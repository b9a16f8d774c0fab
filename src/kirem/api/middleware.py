"""Outermost ASGI layer: request ids, body size limits, and a last-resort 500 in the wrapper.

On Graph-compatible paths (``/v<major>.<minor>/…``) its own answers are in Meta's error body instead.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirem.api import graph_errors
from kirem.api.responses import error_body
from kirem.instruments import Instruments
from kirem.logs import request_id_var

log = logging.getLogger("kirem.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, body_limit_for: Callable[[str], int], metrics: Instruments) -> None:
        self.app = app
        self.body_limit_for = body_limit_for
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)
        limit = self.body_limit_for(scope["path"])
        started = False
        too_large = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if too_large and not started and message["type"] == "http.response.start":
                raise BodyTooLarge  # the app turned our error into its own answer; ours wins
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        async def reply(status: int, message: str, graph_error: graph_errors.GraphError) -> None:
            graph = graph_errors.is_graph_path(scope["path"])
            body = orjson.dumps(graph_error.body(request_id) if graph else error_body(status, message))
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await reply(413, f"Request body too large (limit {limit} bytes)", graph_errors.too_large(limit))
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not started:
                too_large = False
                await reply(
                    413, f"Request body too large (limit {limit} bytes)", graph_errors.too_large(limit)
                )
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await reply(500, "Internal server error", graph_errors.unexpected())
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.http_requests.labels(scope.get("method", ""), route, str(status)).inc()
            self.metrics.http_seconds.labels(route).observe(time.perf_counter() - began)
