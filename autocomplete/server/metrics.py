"""Prometheus metrics of one app: what the server counts, and the `/metrics` text.

One process (the default with one worker): the app's metrics live in a registry of its own
(not prometheus-client's global one), so tests build many apps in one process and read each
one's numbers. Several workers: `autocomplete serve` runs them in prometheus-client's
multiprocess mode (`multiproc`), and whichever worker answers a scrape reports every worker's
counts. Each gauge names how workers' values merge (`multiprocess_mode`); each choice is
explained where the gauge is defined. Process and runtime metrics: `runtime_metrics`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector

from autocomplete.model.memo import MemoStats

from . import multiproc
from .runtime_metrics import GC_SAMPLE_S, WorkerProcesses, gc_counters, gc_pauses

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
REFUSAL_REASONS = ("origin", "capacity", "client_cap", "client_rate")
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
    """Every metric the server exports; see each help text for what it counts.

    In multiprocess mode (`multiproc.active_dir()`: `PROMETHEUS_MULTIPROC_DIR` set before
    this process imported prometheus-client) the values go to that directory, shared with the
    other workers. Two apps in one such process would add up their counts: one app a process.
    """

    def __init__(self, index_version: str, index_model: str, store_name: str) -> None:
        self.multiproc_dir = multiproc.active_dir()
        if self.multiproc_dir is not None:
            # A crashed worker whose pid this process inherited may have left live gauges.
            multiproc.mark_dead(os.getpid(), self.multiproc_dir)
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
        # livesum: the server's connections are the sum of its running workers'.
        self.open_connections = Gauge(
            "qac_open_connections",
            "WebSocket connections open now",
            multiprocess_mode="livesum",
            registry=r,
        )
        # livesum: the server's capacity is the sum of its running workers' limits.
        self.connection_limit = Gauge(
            "qac_max_connections",
            "WebSocket connections the server accepts at most (QAC_MAX_CONNECTIONS per worker)",
            multiprocess_mode="livesum",
            registry=r,
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
        # livemin: 0 as soon as any running worker's last store call failed.
        self.store_available = Gauge(
            "qac_store_available",
            "1 when the session store's last operation succeeded (on every worker), else 0",
            multiprocess_mode="livemin",
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
        # livemax: 1 while any running worker's keystrokes skip the store.
        self.breaker_open = Gauge(
            "qac_store_breaker_open",
            "1 while keystrokes skip the session store (it failed or was slow) on any worker, "
            "else 0",
            multiprocess_mode="livemax",
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
        self.result_cache_lookups = Counter(
            "qac_result_cache_lookups",
            "Anonymous keystrokes looked up in the worker's answer cache, by result (hit, miss)",
            ["result"],
            registry=r,
        )
        # livesum: the server's cached answers are the sum of its running workers'.
        self.result_cache_entries = Gauge(
            "qac_result_cache_entries",
            "Answers held in the answer cache (QAC_RESULT_CACHE at most per worker)",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.memo_lookups = Counter(
            "qac_prefix_memo_lookups",
            "Lookups in each bounded memo of a worker (per prefix, text, word or session; "
            "README lists them), by result (hit, miss)",
            ["memo", "result"],
            registry=r,
        )
        # livesum: the server's remembered prefixes are the sum of its running workers'.
        self.memo_entries = Gauge(
            "qac_prefix_memo_entries",
            "Entries held in each memo of a worker (bounded per worker)",
            ["memo"],
            multiprocess_mode="livesum",
            registry=r,
        )
        #: the worker's memo statistics (`MemoStats`), sampled every `GC_SAMPLE_S` and at
        #: each scrape; None until the app sets it
        self.memo_source: Callable[[], Mapping[str, MemoStats]] | None = None
        self._memo_seen: dict[str, MemoStats] = {}
        # livemax: one series per index served by a running worker (during a rolling
        # restart, old and new side by side).
        info = Gauge(
            "qac_index_info",
            "The index being served",
            ["version", "model"],
            multiprocess_mode="livemax",
            registry=r,
        )
        info.labels(index_version, index_model).set(1)
        # liveall: one series per running worker; multiprocess mode adds the `pid` label.
        worker = Gauge(
            "qac_worker_info",
            "A worker process serving now",
            ["store"] if self.multiproc_dir is not None else ["pid", "store"],
            multiprocess_mode="liveall",
            registry=r,
        )
        if self.multiproc_dir is not None:
            worker.labels(store_name).set(1)
        else:
            worker.labels(str(os.getpid()), store_name).set(1)

        # Export every known label at 0, so rates and alerts work before the first event.
        #: each request type's counter, looked up once (a frame counts without `labels`)
        self.request_of = {kind: self.requests.labels(kind) for kind in REQUEST_TYPES}
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
        self._cache_hit = self.result_cache_lookups.labels("hit")
        self._cache_miss = self.result_cache_lookups.labels("miss")
        self.store_available.set(1)

        if self.multiproc_dir is None:
            r.register(WorkerProcesses(lambda: (os.getpid(),)))
            GCCollector(registry=r)
            r.register(gc_pauses())
            PlatformCollector(registry=r)
        else:
            gc_counters().sample()

    def result_cache_lookup(self, hit: bool, size: int) -> None:
        """One lookup in the answer cache (`autocomplete.result_cache.CachedRanker.observe`)."""
        (self._cache_hit if hit else self._cache_miss).inc()
        self.result_cache_entries.set(size)

    def sample_memos(self) -> None:
        """Copy the ranker's memo statistics into the metrics (counters by their growth
        since the last sample), so keystrokes pay nothing for them."""
        if self.memo_source is None:
            return
        for name, now in self.memo_source().items():
            before = self._memo_seen.get(name, MemoStats(0, 0, 0))
            self.memo_lookups.labels(name, "hit").inc(max(now.hits - before.hits, 0))
            self.memo_lookups.labels(name, "miss").inc(max(now.misses - before.misses, 0))
            self.memo_entries.labels(name).set(now.size)
            self._memo_seen[name] = now

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text exposition (of every worker)."""
        self.sample_memos()
        path = self.multiproc_dir
        if path is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        gc_counters().sample()
        live = multiproc.reap_dead(path)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path)
        registry.register(WorkerProcesses(lambda: live))
        PlatformCollector(registry=registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    async def run(self) -> None:
        """Every `GC_SAMPLE_S`: sample the ranker's memos, and copy this worker's GC
        statistics to the shared files (in multiprocess mode). Cancel to stop."""
        while True:
            await asyncio.sleep(GC_SAMPLE_S)
            self.sample_memos()
            if self.multiproc_dir is not None:
                gc_counters().sample()

    def close(self) -> None:
        """This worker is leaving: its live gauges stop counting (its counters stay)."""
        if self.multiproc_dir is not None:
            gc_counters().sample()
            multiproc.mark_dead(os.getpid(), self.multiproc_dir)
