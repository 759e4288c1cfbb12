"""The shared per-client ledger, on one Redis server and on a Redis Cluster.

On a cluster each client's keys sit in their own slot, so the batched calls (`heartbeat`,
`add_frames`) span several masters: the client splits the pipeline by node and must still
return every client's total in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from session_store.ledger import RedisLedger
from tests.cluster_server import LocalCluster

from .conftest import redis_url

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

BACKENDS = ["redis", pytest.param("cluster", marks=pytest.mark.cluster)]
CLIENTS = [f"client-{i}" for i in range(24)]


@pytest.fixture
async def ledger(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[RedisLedger]:
    made = RedisLedger(redis_url(backend, request))
    yield made
    await made.close()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_client_is_admitted_up_to_its_cap_and_a_counted_socket_rejoins(
    ledger: RedisLedger,
) -> None:
    assert await ledger.join("a", "conn-1", cap=2, ttl_s=60)
    assert await ledger.join("a", "conn-2", cap=2, ttl_s=60)
    assert not await ledger.join("a", "conn-3", cap=2, ttl_s=60), "at the cap"
    assert await ledger.join("a", "conn-1", cap=2, ttl_s=60), "already counted: renewed"
    assert await ledger.join("b", "conn-1", cap=2, ttl_s=60), "another client's own cap"
    await ledger.leave("a", "conn-2")
    assert await ledger.join("a", "conn-3", cap=2, ttl_s=60)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_sockets_lapse_unless_their_worker_renews_them(ledger: RedisLedger) -> None:
    for client in CLIENTS:
        assert await ledger.join(client, "kept", cap=2, ttl_s=0.3)
        assert await ledger.join(client, "crashed", cap=2, ttl_s=0.3)
    await ledger.heartbeat({client: ["kept"] for client in CLIENTS}, ttl_s=60)
    await asyncio.sleep(0.4)  # the unrenewed entries' lifetime passes
    for client in CLIENTS:
        assert await ledger.join(client, "new", cap=2, ttl_s=60), "the crashed one lapsed"
        assert not await ledger.join(client, "third", cap=2, ttl_s=60), "the kept one counts"


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_frames_of_many_clients_add_up_per_client(ledger: RedisLedger) -> None:
    counts = {client: i + 1 for i, client in enumerate(CLIENTS)}
    assert await ledger.add_frames(counts, window_s=60) == counts
    doubled = await ledger.add_frames(counts, window_s=60)
    assert doubled == {client: 2 * n for client, n in counts.items()}
    assert await ledger.add_frames({}, window_s=60) == {}


@pytest.mark.cluster
def test_the_batched_clients_keys_span_several_masters(redis_cluster: LocalCluster) -> None:
    """What makes the cluster runs above meaningful: one batch reaches several nodes."""
    key = "qac:client:{%s}:conns"
    masters = {redis_cluster.master_of(key % client).port for client in CLIENTS}
    assert len(masters) == len(redis_cluster.masters())
