"""Who is calling a tool: set by the transport after authentication, read by every tool."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from kirem.context import AppContext
from kirem.tenancy.service import Tenant


@dataclass(frozen=True)
class Caller:
    ctx: AppContext
    tenant: Tenant
    request_id: str


_current: ContextVar[Caller | None] = ContextVar("kirem_mcp_caller", default=None)


def set_caller(caller: Caller) -> Token[Caller | None]:
    """Bind ``caller`` to the current request (tasks the SDK starts from it inherit the binding)."""
    return _current.set(caller)


def reset_caller(token: Token[Caller | None]) -> None:
    _current.reset(token)


def current_caller() -> Caller:
    caller = _current.get()
    if caller is None:
        raise RuntimeError("MCP tool called outside an authenticated /v1/mcp request")
    return caller
