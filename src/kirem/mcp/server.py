"""The ``kirem`` MCP server (official SDK v2 ``MCPServer``) and its seven tools."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from kirem import __version__
from kirem.mcp import tools
from kirem.mcp.results import tool_error

SERVER_NAME = "kirem"
INSTRUCTIONS = (
    "Kirem connects you to a business's WhatsApp inbox. Typical flow: list_conversations (status open) "
    "to find chats that need an answer, get_conversation to read one, then send_message to reply. "
    "Outside the customer's 24-hour window only templates can be sent (list_templates, send_template)."
)


def _simplify(schema: Any) -> Any:
    """Plain input schemas: no pydantic titles, an optional ``str | None`` shown as ``string``."""
    if isinstance(schema, list):
        return [_simplify(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _simplify(value) for key, value in schema.items() if key != "title"}
    variants = out.get("anyOf")
    if isinstance(variants, list):
        concrete = [v for v in variants if v != {"type": "null"}]
        if len(concrete) == 1 and len(variants) == 2:
            del out["anyOf"]
            out = {**concrete[0], **out}
            if out.get("default", ...) is None:
                del out["default"]
    return out


def _tool(fn: Any) -> Tool:
    tool = Tool.from_function(fn, description=inspect.cleandoc(fn.__doc__ or ""), structured_output=False)
    tool.parameters = _simplify(tool.parameters)
    return tool


def _validation_text(tool: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
        problems.append(f"{field}: {error.get('msg', 'invalid value')}")
    return f"Invalid arguments for {tool}: {'; '.join(problems)}. See the tool's inputSchema (tools/list)."


class KiremMCPServer(MCPServer[Any]):
    """Argument and unknown-tool mistakes answered as short, actionable tool errors."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        known = [tool.name for tool in await self.list_tools()]
        if name not in known:
            return tool_error(f"Unknown tool {name!r}. Available tools: {', '.join(known)}.")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return tool_error(_validation_text(name, exc.__cause__))
            raise


@contextmanager
def _host_logging_untouched() -> Iterator[None]:
    """``MCPServer`` calls ``logging.basicConfig`` (a rich handler on the root logger): not in our host."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    silencer = logging.NullHandler()
    root.addHandler(silencer)
    try:
        yield
    finally:
        root.removeHandler(silencer)


def create_mcp_server() -> KiremMCPServer:
    with _host_logging_untouched():
        return KiremMCPServer(
            SERVER_NAME,
            title="Kirem WhatsApp",
            instructions=INSTRUCTIONS,
            version=__version__,
            tools=[_tool(fn) for fn in tools.TOOLS],
            log_level="WARNING",
        )
