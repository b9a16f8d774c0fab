"""Published shapes of a project's dedicated MCP endpoint and SLA policy (management API)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.route_docs import Timestamp, with_examples
from kirem.enterprise.mcp_endpoints import DEFAULT_RATE, MAX_RATE, SLUG
from kirem.enterprise.sla import (
    DEFAULT_MIN_DELIVERIES,
    MAX_LATENCY_MS,
    MAX_MIN_DELIVERIES,
    MAX_WINDOW_SECONDS,
    MIN_WINDOW_SECONDS,
)


class McpEndpointView(BaseModel):
    model_config = with_examples(
        {
            "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
            "slug": "toko-melati",
            "url": "https://kirem.example/v1/mcp/toko-melati",
            "rate_limit_per_second": 20.0,
            "key_scope": "mcp",
            "created_at": "2026-11-02T08:20:00Z",
            "updated_at": "2026-11-02T08:20:00Z",
        }
    )

    project_id: str
    slug: str
    url: str = Field(description="Where MCP clients POST, with a key of scope mcp")
    rate_limit_per_second: float
    key_scope: str = Field(description="Always mcp: the scope of the keys this endpoint takes")
    created_at: Timestamp = None
    updated_at: Timestamp = None


class SlaPolicyView(BaseModel):
    model_config = with_examples(
        {
            "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
            "window_seconds": 3600,
            "min_success_rate": 0.99,
            "max_p95_latency_ms": 5000,
            "min_deliveries": 20,
            "state": "ok",
            "state_changed_at": None,
            "evaluated_at": "2026-11-02T09:00:00Z",
            "deliveries": 120,
            "success_rate": 1.0,
            "p95_latency_ms": 180.0,
        }
    )

    project_id: str
    window_seconds: int
    min_success_rate: float | None = None
    max_p95_latency_ms: int | None = None
    min_deliveries: int
    state: str = Field(description="ok or breached")
    state_changed_at: Timestamp = None
    evaluated_at: Timestamp = None
    deliveries: int | None = Field(None, description="Finished deliveries in the last evaluated window")
    success_rate: float | None = None
    p95_latency_ms: float | None = None


class McpEndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG.pattern, description="The URL's last segment")
    rate_limit_per_second: float = Field(DEFAULT_RATE, ge=0.1, le=MAX_RATE, description="Its own rate limit")


class SlaPolicyBody(BaseModel):
    """At least one of ``min_success_rate`` and ``max_p95_latency_ms``."""

    model_config = ConfigDict(extra="forbid")

    window_seconds: int = Field(
        ge=MIN_WINDOW_SECONDS, le=MAX_WINDOW_SECONDS, description="The window judged at each evaluation"
    )
    min_success_rate: float | None = Field(None, ge=0, le=1)
    max_p95_latency_ms: int | None = Field(None, ge=1, le=MAX_LATENCY_MS)
    min_deliveries: int = Field(
        DEFAULT_MIN_DELIVERIES,
        ge=1,
        le=MAX_MIN_DELIVERIES,
        description="With fewer finished deliveries in the window the policy keeps its state",
    )
