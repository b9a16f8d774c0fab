"""Tool answers as text content (``content: [{type: "text", text}]``) and failures an agent can act on.

Every expected failure becomes a tool error (``isError: true``) whose text says what went wrong and
what to do; an unexpected one is logged and reads "internal error, request id …" — never a stack
trace or a database message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec

import orjson
from mcp.types import CallToolResult, TextContent

from kirem.api.responses import ApiError
from kirem.mcp.caller import current_caller
from kirem.meta.client import MetaApiError, MetaUnavailable

log = logging.getLogger("kirem.mcp")
P = ParamSpec("P")


class ToolInputError(Exception):
    """A bad argument, caught before any work is done; the message is shown to the agent as is."""


def text_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)])


def json_result(value: Any) -> CallToolResult:
    return text_result(orjson.dumps(value).decode())


def tool_error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _details(errors: Any) -> str:
    if isinstance(errors, dict):
        parts = [
            f"{key}: {value}" for key, value in errors.items() if key != "plan" and value not in (None, "")
        ]
        return "; ".join(parts)
    if isinstance(errors, list):
        return "; ".join(str(item) for item in errors)
    return "" if errors in (None, "") else str(errors)


def api_error_text(exc: ApiError) -> str:
    details = _details(exc.errors)
    message = exc.message.rstrip()
    if details and details not in message:
        return f"{message} ({details})"
    return message


def meta_error_text(exc: MetaApiError) -> str:
    code = exc.code
    details = exc.error.get("error_data", {})
    detail = details.get("details") if isinstance(details, dict) else None
    text = f"WhatsApp (Meta) refused the request: {exc.message}"
    if detail and detail not in text:
        text += f" — {detail}"
    if code is not None and f"#{code}" not in text:
        text += f" (Meta error {code})"
    return text


def failure_text(exc: Exception, tool: str) -> str:
    """The agent-readable text for an exception; unexpected ones are logged with the request id."""
    if isinstance(exc, ToolInputError):
        return str(exc)
    if isinstance(exc, ApiError):
        return api_error_text(exc)
    if isinstance(exc, MetaApiError):
        return meta_error_text(exc)
    if isinstance(exc, MetaUnavailable):
        return "The WhatsApp (Meta) API could not be reached; nothing was sent. Try again in a moment."
    request_id = current_caller().request_id
    log.exception("MCP tool %s failed unexpectedly (request %s)", tool, request_id)
    return f"internal error, request id {request_id}"


def guarded(
    tool: str,
) -> Callable[[Callable[P, Awaitable[CallToolResult]]], Callable[P, Awaitable[CallToolResult]]]:
    """Turn every exception the tool raises into a tool error (``isError: true``)."""

    def decorate(fn: Callable[P, Awaitable[CallToolResult]]) -> Callable[P, Awaitable[CallToolResult]]:
        @wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> CallToolResult:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                return tool_error(failure_text(exc, tool))

        return run

    return decorate
