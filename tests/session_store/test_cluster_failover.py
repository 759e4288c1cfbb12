"""A Redis Cluster master dies: its keys fail fast, the rest keep working, its replica takes
over, and the same store objects carry on (scripts included) without a restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from session_store import SessionStoreUnavailable, StoreConfig
from session_store.fresh import FreshConfig, RedisFreshCounts
from session_store.redis_store import RedisStore
from tests.cluster_server import LocalCluster, redis_cluster_fixture

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.cluster]

# Its own cluster (this test kills a node), quick to notice a dead master.
failing_cluster = redis_cluster_fixture(scope="function", node_timeout_ms=1000)
#: Generous bound for a takeover on a loaded machine: the node timeout (1 s) plus an election.
TAKEOVER_DEADLINE_S = 30.0


def other_user(cluster: LocalCluster, store: RedisStore, dead_port: int) -> str:
    """A user whose keys live on a master that stays up."""
    for i in range(100):
        user = f"bystander-{i}"
        if cluster.master_of(store.user_keys(user)[0]).port != dead_port:
            return user
    raise AssertionError("every user hashes to the same master")


async def test_a_dead_masters_keys_fail_fast_then_work_again_on_its_replica(
    failing_cluster: LocalCluster,
) -> None:
    store = RedisStore(failing_cluster.url, StoreConfig())
    fresh = RedisFreshCounts(failing_cluster.url, FreshConfig(min_users=1.0))
    await store.append("s", "before", "alice")
    await store.record_user("alice", "before")
    await fresh.add("before", "user:alice")
    master = failing_cluster.master_of(store.session_key("s", "alice"))
    bystander = other_user(failing_cluster, store, master.port)
    failing_cluster.wait_replicated(master)  # replication is asynchronous: nothing in flight

    master.kill()
    started, failures = time.monotonic(), 0
    while True:
        call = time.monotonic()
        try:
            await store.append("s", "after", "alice")
            break
        except SessionStoreUnavailable:
            failures += 1
        assert time.monotonic() - call < 2.0, "a failing call must fail fast, not hang"
        # The other masters' keys keep working all along.
        await store.append("b", "still here", bystander)
        assert time.monotonic() - started < TAKEOVER_DEADLINE_S, failing_cluster.topology()
        await asyncio.sleep(0.05)

    assert failures >= 1, "the master's keys were unreachable for a while"
    assert await store.recent("s", "alice") == ["before", "after"], "nothing written was lost"
    await store.record_user("alice", "after")
    assert {e.query for e in await store.user_history("alice")} == {"before", "after"}
    await store.forget_user("alice", "before")  # every script runs on the promoted replica
    assert await store.recent("s", "alice") == ["after"]
    assert await store.recent("b", bystander) == ["still here"]
    await fresh.add("after", "user:bob")  # the fresh counts' master may be the dead one
    assert {q for q, _ in await fresh.top(10)} == {"before", "after"}
    failing_cluster.wait_ok()
    await store.close()
    await fresh.close()
