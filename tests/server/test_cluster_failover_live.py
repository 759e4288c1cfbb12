"""A Redis Cluster master dies while a user types and submits through `autocomplete serve`.

What the user sees: completions keep coming (never an error frame); while no node serves
their keys, a submit is acked ``stored: false`` (the store could not keep it: never a silent
loss), and once a replica has taken over, submits are stored again and everything acked
``stored: true`` is there, on the same server process, without a restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cluster_server import LocalCluster, redis_cluster_fixture
from tests.credentials import as_user
from tests.live_server import LiveServer

from .client import ask, complete, ws_session
from .metrics_text import sample

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.cluster]

# Its own cluster (this test kills a node), quick to notice a dead master.
failing_cluster = redis_cluster_fixture(scope="function", node_timeout_ms=1000)
#: Generous bound for a takeover on a loaded machine: the node timeout (1 s) plus an election.
TAKEOVER_DEADLINE_S = 30.0
USER = "faye"


async def test_completions_flow_through_a_failover_and_no_acked_submit_is_lost(
    built_sample_index: Path, failing_cluster: LocalCluster
) -> None:
    with LiveServer(built_sample_index, redis_url=failing_cluster.url) as live:
        async with ws_session(as_user(live.ws_url, USER)) as (ws, hello):
            session = hello["session"]
            first = await ask(ws, {"type": "submit", "id": 1, "query": "before the crash"})
            assert first["stored"] is True
            master = failing_cluster.master_of(f"qac:user:{{{USER}}}")
            failing_cluster.wait_replicated(master)

            master.kill()
            acks: list[tuple[str, bool]] = []
            request_id = 1
            async with asyncio.timeout(TAKEOVER_DEADLINE_S):
                # Until a submit failed and a later one was stored again.
                while not (acks and acks[-1][1] and not all(ok for _, ok in acks)):
                    for prefix in ("g", "go", "goo"):
                        request_id += 1
                        reply = await complete(ws, prefix, request_id=request_id)
                        assert reply["items"], "completions go on without the store"
                    request_id += 1
                    query = f"during the failover {len(acks)}"
                    ack = await ask(ws, {"type": "submit", "id": request_id, "query": query})
                    assert ack["type"] == "ack" and ack["id"] == request_id, ack
                    acks.append((query, ack["stored"]))
                    await asyncio.sleep(0.1)  # typing pace; the failover takes its own time
        assert len(acks) <= 40, "every submit fits in what recent searches can list"

        failing_cluster.wait_ok()
        stored = {query for query, ok in acks if ok} | {"before the crash"}
        missing = await missing_from_recent(live, session, stored)
        assert not missing, f"acked stored:true but gone: {missing}"
        assert sample(live.metrics(), "qac_errors_total", code="unavailable") == 0


async def missing_from_recent(live: LiveServer, session: str, queries: set[str]) -> set[str]:
    """Which of `queries` the session's recent searches lack, once a new connection's context
    read is no longer skipped (the server skips reads for a while after store failures)."""
    missing = queries
    async with asyncio.timeout(TAKEOVER_DEADLINE_S):
        while missing:
            async with ws_session(as_user(live.ws_url, USER, session)) as (ws, hello):
                assert hello["session"] == session
                items = (await complete(ws, "", request_id=1, k=50))["items"]
            # Popular queries fill the list when the context read was skipped: only the
            # history items are the store's answer.
            listed = [i for i in items if i["source"] == "history"]
            missing = queries - {item["text"] for item in listed}
            if listed and missing:  # the store answered, yet something acked is gone
                return missing
            await asyncio.sleep(0.1)
    return missing
