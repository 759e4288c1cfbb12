"""Building the Redis client from a URL: one server or a Cluster, one policy, one error type."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from session_store import SessionStoreUnavailable, StoreConfig, create_store
from session_store.client import is_cluster_url, parse_cluster_url, redis_client
from session_store.fresh import RedisFreshCounts
from session_store.ledger import RedisLedger
from session_store.redis_store import RedisStore
from tests.cluster_server import LocalCluster, free_node_port, info
from tests.redis_server import RedisServer, free_port

CONFIG = StoreConfig(socket_timeout_s=0.25, connect_timeout_s=0.125, retries=2)


def test_plain_urls_give_a_single_server_client_with_the_configs_timeouts() -> None:
    for url in ("redis://h:6380/2", "rediss://h:6380", "unix:///run/redis.sock"):
        client = redis_client(url, CONFIG)
        assert isinstance(client, Redis) and not is_cluster_url(url)
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.25, 0.125)
        assert client.get_retry() is not None and client.get_retry().get_retries() == 2


def test_a_cluster_url_lists_startup_nodes_and_its_credentials_apply_to_all() -> None:
    url = "redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002,node-4"
    nodes, options = parse_cluster_url(url)
    assert nodes == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002), ("node-4", 6379)]
    assert options == {"password": "s3cret"}
    client = redis_client(url, CONFIG)
    assert isinstance(client, RedisCluster) and is_cluster_url(url)
    assert sorted(n.name for n in client.startup_nodes) == [
        "10.0.0.1:7000",
        "10.0.0.2:7001",
        "::1:7002",
        "node-4:6379",
    ]
    assert client.connection_kwargs["password"] == "s3cret"
    assert client.connection_kwargs["socket_timeout"] == 0.25
    assert client.retry.get_retries() == 2


def test_rediss_cluster_urls_speak_tls_and_url_options_win_over_the_config() -> None:
    nodes, options = parse_cluster_url("rediss+cluster://app:pw%40x@a:7000/0?socket_timeout=2")
    assert nodes == [("a", 7000)]
    assert options == {"username": "app", "password": "pw@x", "ssl": True, "socket_timeout": 2.0}
    client = redis_client("REDIS+CLUSTER://a:7000?socket_timeout=2", CONFIG)
    assert client.connection_kwargs["socket_timeout"] == 2.0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://:pw@", "empty node"),
        ("redis+cluster://:pw@a:7000,,b:7001", "empty node"),
        ("redis+cluster://:pw@a:port", "bad port"),
        ("redis+cluster://:pw@a:7000/3", "only database 0"),
        ("redis+cluster://:pw@a:99999", "bad port"),
    ],
)
def test_malformed_cluster_urls_are_refused_without_echoing_the_password(
    url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        create_store(url)
    assert "pw" not in str(refused.value)


def test_every_redis_user_takes_a_cluster_url() -> None:
    url = "redis+cluster://127.0.0.1:7000"
    store, fresh, ledger = RedisStore(url), RedisFreshCounts(url), RedisLedger(url)
    for user in (store, fresh, ledger):
        assert isinstance(user._client, RedisCluster)  # creating them does not connect
    assert create_store(url).name == "redis"


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_cluster_nobody_answers_is_unavailable_not_a_crash() -> None:
    store = RedisStore(f"redis+cluster://127.0.0.1:{free_port()}", CONFIG)
    with pytest.raises(SessionStoreUnavailable):
        await store.recent("s")
    assert await store.ping() is False
    await store.close()


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_cluster_with_no_master_for_a_slot_is_unavailable_not_a_crash() -> None:
    # A lone cluster node that serves no slots: every key's slot is uncovered.
    with RedisServer(free_node_port(), extra_args=["--cluster-enabled", "yes"]) as lone:
        store = RedisStore(f"redis+cluster://127.0.0.1:{lone.port}", StoreConfig(retries=0))
        with pytest.raises(SessionStoreUnavailable):
            await store.append("s", "query")
        await store.close()


@pytest.fixture
def flushed_cluster(redis_cluster: LocalCluster) -> LocalCluster:
    redis_cluster.flush()
    return redis_cluster


@pytest.mark.anyio
@pytest.mark.cluster
@pytest.mark.redis
async def test_a_burst_of_calls_on_a_new_cluster_client_all_succeed(
    flushed_cluster: LocalCluster,
) -> None:
    store = RedisStore(flushed_cluster.url)
    results = await asyncio.gather(
        *(store.append(f"session-{i}", "query") for i in range(40)), return_exceptions=True
    )
    assert [r for r in results if r is not None] == []
    assert await store.recent("session-39") == ["query"]
    await store.close()


def command_table_fetches(cluster: LocalCluster) -> int:
    """COMMAND calls the cluster's nodes have served so far."""
    return sum(
        info(node.port, "commandstats").get("cmdstat_command", {}).get("calls", 0)
        for node in cluster.live()
    )


@pytest.mark.anyio
@pytest.mark.cluster
@pytest.mark.redis
async def test_rereading_the_cluster_layout_does_not_fetch_the_command_table_again(
    flushed_cluster: LocalCluster,
) -> None:
    client = redis_client(flushed_cluster.url, StoreConfig())
    assert await client.set("qac:probe", "1")
    before = command_table_fetches(flushed_cluster)
    assert before >= 1, "the first call fetched it"
    await client.aclose()  # the next call reconnects and re-reads the layout
    assert await client.get("qac:probe") == "1"
    assert command_table_fetches(flushed_cluster) == before
    await client.aclose()
