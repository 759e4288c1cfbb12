"""Prometheus metrics of one app, in a registry of its own.

A registry per app (not prometheus-client's global one) lets tests build many apps in one
process and read each one's numbers. With several uvicorn workers each process counts for
itself and a scrape of `/metrics` reaches one of them; the `qac_worker_info` pid label says
which.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REQUEST_TYPES = ("complete", "submit", "forget", "invalid")
ERROR_CODES = ("bad_request", "rate_limited", "unavailable")
STORE_OPS = (
    "recent",
    "user_history",
    "append",
    "record_user",
    "forget",
    "clear",
    "forget_user",
    "fresh_add",
    "fresh_top",
    "fresh_forget",
    "ping",
    "context",
    "ledger",
)
REFUSAL_REASONS = ("origin", "capacity", "client_cap")
AUTH_RESULTS = ("user", "anonymous", "expired", "invalid", "unusable_subject")
CLOSE_REASONS = ("idle", "flood", "frame_too_big", "drain")

# Ranking is ~30 us - 1 ms; a store round trip adds ~0.1-1 ms; a timed-out store read ~100 ms.
_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


class ServerMetrics:
    """Every metric the server exports; see each help text for what it counts."""

    def __init__(self, index_version: str, index_model: str, store_name: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "qac_requests",
            "Client frames received, by type (invalid: unparseable or unknown)",
            ["type"],
            registry=r,
        )
        self.errors = Counter(
            "qac_errors", "Error frames sent to clients, by code", ["code"], registry=r
        )
        self.completion_latency = Histogram(
            "qac_completion_latency_seconds",
            "Time from a complete frame being read to its reply being sent (store read + ranking)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.superseded = Counter(
            "qac_superseded",
            "Complete requests dropped unanswered because a newer one arrived on the connection",
            registry=r,
        )
        self.open_connections = Gauge(
            "qac_open_connections", "WebSocket connections open now", registry=r
        )
        self.refused_connections = Counter(
            "qac_refused_connections",
            "WebSocket handshakes refused, by reason",
            ["reason"],
            registry=r,
        )
        self.rate_limit_closes = Counter(
            "qac_rate_limit_closes",
            "Connections closed (1008) because they kept sending faster than the rate limit",
            registry=r,
        )
        self.store_available = Gauge(
            "qac_store_available",
            "1 when the session store's last operation succeeded, else 0",
            registry=r,
        )
        self.store_operations = Counter(
            "qac_store_operations",
            "Session store calls attempted, by operation",
            ["op"],
            registry=r,
        )
        self.store_failures = Counter(
            "qac_store_failures",
            "Session store calls that failed or timed out, by operation",
            ["op"],
            registry=r,
        )
        self.store_skipped = Counter(
            "qac_store_skipped_reads",
            "Keystrokes completed without session context because the store was failing",
            registry=r,
        )
        self.store_latency = Histogram(
            "qac_store_latency_seconds",
            "Session store call latency (answered calls only), by operation",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker_open = Gauge(
            "qac_store_breaker_open",
            "1 while keystrokes skip the session store (it failed or was slow), else 0",
            registry=r,
        )
        self.breaker_opens = Counter(
            "qac_store_breaker_opens",
            "Times the store breaker opened, by cause (error, latency)",
            ["cause"],
            registry=r,
        )
        self.auth = Counter(
            "qac_auth",
            "WebSocket handshakes by who they identified (user, anonymous) or why a presented "
            "credential was refused (expired, invalid, unusable_subject)",
            ["result"],
            registry=r,
        )
        self.closes = Counter(
            "qac_server_closes",
            "Connections the server closed, by reason",
            ["reason"],
            registry=r,
        )
        self.client_throttles = Counter(
            "qac_client_throttles",
            "Times a client address was throttled for sending too many frames over all its "
            "connections (shared across workers with Redis)",
            registry=r,
        )
        self.send_failures = Counter(
            "qac_send_failures",
            "Frames that could not be sent (the client left, or the frame could not be encoded)",
            ["kind"],
            registry=r,
        )
        info = Gauge("qac_index_info", "The index being served", ["version", "model"], registry=r)
        info.labels(index_version, index_model).set(1)
        worker = Gauge("qac_worker_info", "This worker process", ["pid", "store"], registry=r)
        worker.labels(str(os.getpid()), store_name).set(1)

        # Export every known label at 0, so rates and alerts work before the first event.
        for kind in REQUEST_TYPES:
            self.requests.labels(kind)
        for code in ERROR_CODES:
            self.errors.labels(code)
        for op in STORE_OPS:
            self.store_operations.labels(op)
            self.store_failures.labels(op)
        for reason in REFUSAL_REASONS:
            self.refused_connections.labels(reason)
        for result in AUTH_RESULTS:
            self.auth.labels(result)
        for reason in CLOSE_REASONS:
            self.closes.labels(reason)
        for cause in ("error", "latency"):
            self.breaker_opens.labels(cause)
        for kind in ("disconnected", "encoding"):
            self.send_failures.labels(kind)
        self.store_available.set(1)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text exposition."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
