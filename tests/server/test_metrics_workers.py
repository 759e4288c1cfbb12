"""With several workers one scrape of `/metrics` counts every worker (multiprocess mode), and
a worker that dies stops counting toward the live gauges but not toward the totals."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from tests.live_server import LiveServer

from .client import DEADLINE_S, complete, ws_session
from .metrics_text import sample

pytestmark = pytest.mark.anyio

COMPLETES = 12
MAX_CONNECTIONS = 16


def connections_by_worker(server: LiveServer, pids: int = 2) -> dict[int, int]:
    """{pid: open WebSockets} of every worker, from `/healthz` on fresh connections."""
    seen: dict[int, int] = {}
    deadline = time.monotonic() + DEADLINE_S * 3
    while len(seen) < pids and time.monotonic() < deadline:
        health = server.healthz()
        seen[health["details"]["pid"]] = health["connections"]
    assert len(seen) == pids, f"only workers {sorted(seen)} answered: {server.output()}"
    return seen


async def connections_on_both_workers(
    server: LiveServer, stack: contextlib.AsyncExitStack
) -> list[ClientConnection]:
    """Open WebSockets until each of the two workers holds at least one."""
    sockets: list[ClientConnection] = []
    while True:
        ws, _ = await stack.enter_async_context(ws_session(server.ws_url))
        sockets.append(ws)
        by_worker = connections_by_worker(server)
        if len(sockets) >= 2 and all(by_worker.values()):
            return sockets
        assert len(sockets) < MAX_CONNECTIONS, f"one worker took every connection: {by_worker}"


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


async def test_one_scrape_counts_the_requests_of_every_worker(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, workers=2) as server:
        async with contextlib.AsyncExitStack() as stack:
            sockets = await connections_on_both_workers(server, stack)
            for n in range(COMPLETES):
                await complete(sockets[n % len(sockets)], "goo", request_id=n)
            pids = set(connections_by_worker(server))
            for _ in range(4):  # whichever worker answers, it reports both
                text = server.metrics()
                assert sample(text, "qac_requests_total", type="complete") == COMPLETES
                assert sample(text, "qac_completion_latency_seconds_count") == COMPLETES
                assert sample(text, "qac_open_connections") == len(sockets)
                assert sample(text, "qac_max_connections") == 2 * 1000  # two workers' limits
                assert sample(text, "qac_store_available") == 1
                workers = {int(labels["pid"]) for labels, _ in samples(text, "qac_worker_info")}
                assert workers == pids
                rss = {
                    int(labels["pid"])
                    for labels, _ in samples(text, "process_resident_memory_bytes")
                }
                assert rss == pids, "every worker's process metrics, by pid"
                assert sample(text, "python_gc_collections_total", generation="0") > 0
                assert sample(text, "python_gc_pause_seconds_total", generation="0") > 0
        assert server.stop() == 0, server.output()


async def test_a_killed_worker_leaves_the_live_gauges_and_stays_in_the_totals(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index, workers=2) as server:
        async with contextlib.AsyncExitStack() as stack:
            sockets = await connections_on_both_workers(server, stack)
            for n, ws in enumerate(sockets):
                await complete(ws, "goo", request_id=n)
            before = connections_by_worker(server)
            victim, survivor = sorted(before)
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + DEADLINE_S * 3
            while True:  # until the supervisor has replaced it and the new worker answers
                text = server.metrics()
                workers = {int(labels["pid"]) for labels, _ in samples(text, "qac_worker_info")}
                if victim not in workers and len(workers) == 2:
                    break
                assert time.monotonic() < deadline, f"workers {workers}: {server.output()}"
                time.sleep(0.05)
            assert survivor in workers
            assert sample(text, "qac_open_connections") == before[survivor]
            assert sample(text, "qac_requests_total", type="complete") == len(sockets)
            rss = {
                int(labels["pid"]) for labels, _ in samples(text, "process_resident_memory_bytes")
            }
            assert rss == workers
