"""The app's one outer ASGI layer: request ids, body size limits, the NUL guard, metrics, a last-resort 500.

On Graph-compatible paths (``/v<major>.<minor>/…``) its own answers are in Meta's error body instead.
``direct`` routes (:class:`DirectRoute`) are served here by their own ASGI app, ahead of FastAPI's
routing and dependency resolution, with everything else this layer does: the busiest paths (Meta's
webhooks, sends) pay for no machinery they do not use.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirem.api import graph_errors
from kirem.api.nul_guard import nul_refusal
from kirem.api.responses import error_body
from kirem.instruments import Instruments
from kirem.logs import request_id_var

log = logging.getLogger("kirem.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _any_segment(segment: str) -> bool:
    return True


@dataclass(frozen=True)
class DirectRoute:
    """A route the edge serves itself: ``path`` as FastAPI declares it (where it stays for the
    OpenAPI document), each ``{name}`` segment taking one path segment that ``accepts`` accepts;
    a request it does not accept goes to FastAPI's routing as any other."""

    method: str
    path: str
    app: ASGIApp
    accepts: Callable[[str], bool] = _any_segment

    def params(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters of a request this route serves; ``None`` when it is not one."""
        if method != self.method:
            return None
        declared = self.path.split("/")
        given = path.split("/")
        if len(given) != len(declared):
            return None
        found: dict[str, str] = {}
        for pattern, segment in zip(declared, given, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment or not self.accepts(segment):
                    return None
                found[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return found


class BodyTooLarge(Exception):
    pass


class RequestMetrics:
    """The HTTP counters' labelled children, looked up once per label set (``labels`` takes a lock)."""

    def __init__(self, metrics: Instruments) -> None:
        self._metrics = metrics
        self._answered: dict[tuple[str, str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        answered = self._answered.get(key)
        if answered is None:
            answered = self._answered[key] = self._metrics.http_requests.labels(*key)
        answered.inc()
        duration = self._durations.get(route)
        if duration is None:
            duration = self._durations[route] = self._metrics.http_seconds.labels(route)
        duration.observe(seconds)


def _request_headers(scope: Scope) -> tuple[str, bytes | None]:
    """The ``X-Request-Id`` (empty when absent) and ``Content-Length`` (raw) of a request."""
    incoming = b""
    declared = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value
        elif name == b"content-length":
            declared = value
    return incoming.decode("latin-1"), declared


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        body_limit_for: Callable[[str], int],
        metrics: Instruments,
        direct: Sequence[DirectRoute] = (),
    ) -> None:
        self.app = app
        self.body_limit_for = body_limit_for
        self.metrics = RequestMetrics(metrics)
        self.direct = tuple(direct)

    def _direct_route(self, scope: Scope, method: str, path: str) -> DirectRoute | None:
        """The direct route serving this request (its path parameters put in ``scope``), if any."""
        for route in self.direct:
            params = route.params(method, path)
            if params is not None:
                scope["path_params"] = params
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, declared = _request_headers(scope)
        request_id = incoming if _SAFE_ID.match(incoming) else "req_" + secrets.token_hex(12)
        request_id_header = request_id.encode()
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)
        path: str = scope["path"]
        method: str = scope.get("method", "")
        direct = self._direct_route(scope, method, path)
        limit = self.body_limit_for(path)
        started = False
        too_large = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                if too_large and not started:
                    raise BodyTooLarge  # the app turned our error into its own answer; ours wins
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id_header)]
            await send(message)

        async def reply(status: int, message: str, graph_error: graph_errors.GraphError) -> None:
            graph = graph_errors.is_graph_path(path)
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
            refused, receive_on = await nul_refusal(scope, limited_receive)
            if refused is not None:
                await refused(scope, receive_on, send_with_id)
            else:
                await (self.app if direct is None else direct.app)(scope, receive_on, send_with_id)
        except BodyTooLarge:
            if not started:
                too_large = False
                await reply(
                    413, f"Request body too large (limit {limit} bytes)", graph_errors.too_large(limit)
                )
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            if not started:
                await reply(500, "Internal server error", graph_errors.unexpected())
        finally:
            route = direct.path if direct is not None else getattr(scope.get("route"), "path", "unmatched")
            self.metrics.record(method, route, status, time.perf_counter() - began)
