"""`--workers 2`: two processes serve, both mapping the same index files (shared pages)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.live_server import LiveServer

from .client import DEADLINE_S, complete, ws_session

pytestmark = pytest.mark.anyio


def mapped_files(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split()) == 6}


def worker_pids(server: LiveServer, want: int) -> set[int]:
    """Ask /healthz on fresh connections until `want` different workers have answered."""
    pids: set[int] = set()
    deadline = time.monotonic() + DEADLINE_S * 3
    while len(pids) < want and time.monotonic() < deadline:
        pids.add(server.healthz()["details"]["pid"])
    return pids


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
async def test_two_workers_serve_and_share_the_mmapped_index(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, workers=2) as server:
        pids = worker_pids(server, 2)
        assert len(pids) == 2, f"only {pids} answered: {server.output()}"
        index_files = {str(p.resolve()) for p in built_sample_index.glob("*.npy")}
        for pid in pids:
            assert index_files & mapped_files(pid), f"worker {pid} does not mmap the index"
        for _ in range(4):  # connections land on either worker; all are served
            async with ws_session(server.ws_url) as (ws, _):
                assert (await complete(ws, "goo"))["items"][0]["text"] == "google"
        assert server.stop() == 0, server.output()
