"""Prometheus metrics of one process: HTTP, Graph calls, inbound webhooks, deliveries, queue depth.

Each app has its own registry (tests build many apps in one process). Labels never carry tenant
data: routes are templates (``/v1/conversations/{conversation_id}``), not paths.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.inbound.models import RawEvent
from kirem.routing.models import Delivery

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "kirem_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "kirem_http_request_seconds", "HTTP request duration", ["route"], registry=self.registry
        )
        self.meta_calls = Counter(
            "kirem_meta_calls",
            "Graph API calls by operation and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.meta_seconds = Histogram(
            "kirem_meta_call_seconds", "Graph API call duration", ["operation"], registry=self.registry
        )
        self.inbound_webhooks = Counter(
            "kirem_inbound_webhooks", "Signed Meta webhooks stored", ["source"], registry=self.registry
        )
        self.inbound_item_failures = Counter(
            "kirem_inbound_item_failures",
            "Events of Meta webhooks that could not be applied (kept with their error, not routed)",
            ["event"],
            registry=self.registry,
        )
        self.delivery_attempts = Counter(
            "kirem_delivery_attempts",
            "Webhook delivery attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kirem_delivery_queue_depth", "Deliveries due now and not leased", registry=self.registry
        )
        self.queue_age = Gauge(
            "kirem_delivery_queue_oldest_seconds", "Age of the oldest due delivery", registry=self.registry
        )
        self.raw_backlog = Gauge(
            "kirem_inbound_backlog", "Raw webhooks stored and not yet processed", registry=self.registry
        )

    @contextmanager
    def meta_call(self, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        finally:
            self.meta_calls.labels(operation, outcome).inc()
            self.meta_seconds.labels(operation).observe(time.perf_counter() - started)

    async def refresh_queue(self, session: AsyncSession, now: datetime) -> None:
        """Queue depth and age, read from the tables that are the queues."""
        due = select(func.count(), func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "pending", Delivery.next_attempt_at <= now
        )
        depth, oldest = (await session.execute(due)).one()
        self.queue_depth.set(depth or 0)
        self.queue_age.set((now - oldest).total_seconds() if oldest else 0)
        backlog = await session.scalar(
            select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
        )
        self.raw_backlog.set(backlog or 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
