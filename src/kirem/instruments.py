"""Prometheus metrics of one process: HTTP, Graph calls, inbound webhooks, deliveries, queue depth.

Each app has its own registry (tests build many apps in one process). Labels never carry tenant
data: routes are templates (``/v1/conversations/{conversation_id}``), not paths. The one exception
is the SLA gauges, labelled with the project id (an opaque id, and only for projects with an SLA
policy); like the queue gauges they are set from the database by :mod:`kirem.metrics`, so every
process shows the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Instruments:
    """The process's counters, histograms and gauges in their own registry."""

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
        self.inbound_age = Gauge(
            "kirem_inbound_oldest_seconds",
            "Age of the oldest unprocessed raw webhook",
            registry=self.registry,
        )
        self.heartbeat_age = Gauge(
            "kirem_worker_heartbeat_age_seconds",
            "Age of the freshest worker heartbeat (-1 when no worker has ever beaten)",
            registry=self.registry,
        )
        self.live_workers = Gauge(
            "kirem_workers_live",
            "Processes running background work with a recent heartbeat",
            registry=self.registry,
        )
        sla = ["project_id"]
        self.sla_breached = Gauge(
            "kirem_sla_breached", "1 while the project's SLA is breached, else 0", sla, registry=self.registry
        )
        self.sla_success = Gauge(
            "kirem_sla_delivery_success_ratio",
            "Webhook delivery success rate over the SLA window (last evaluation)",
            sla,
            registry=self.registry,
        )
        self.sla_latency = Gauge(
            "kirem_sla_delivery_p95_latency_seconds",
            "p95 webhook delivery latency over the SLA window (last evaluation)",
            sla,
            registry=self.registry,
        )
        self.sla_deliveries = Gauge(
            "kirem_sla_window_deliveries",
            "Deliveries finished in the SLA window (last evaluation)",
            sla,
            registry=self.registry,
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
