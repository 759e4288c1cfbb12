"""One place that turns a Redis URL into a redis-py client, and client errors into ours.

The session store, the fresh counts and the shared ledger all connect through `redis_client`,
so they share one URL syntax, one timeout and retry policy, and one error mapping
(`unavailable`). Two kinds of URL:

* a single server: ``redis://[[user]:password@]host[:port][/db][?option=value...]``,
  ``rediss://`` (TLS) or ``unix://path``, exactly as redis-py reads them
  (`redis.asyncio.Redis`);
* a Redis Cluster, named explicitly by the scheme, because a cluster client and a
  single-server client behave differently (slots, redirections, only database 0):
  ``redis+cluster://[[user]:password@]host:port[,host:port...][?option=value...]``, or
  ``rediss+cluster://`` for TLS (`redis.asyncio.cluster.RedisCluster`). The listed nodes
  are startup nodes: any one that answers is enough to discover the rest, so list several.
  Credentials and options apply to every node. A port may be omitted (6379).

Cluster failures: the client follows MOVED/ASK redirections itself; after a connection error,
``CLUSTERDOWN`` or an uncovered slot it re-reads the cluster's layout before retrying
(`StoreConfig.retries` times), so once a replica has taken over from a dead master the next
call reaches the new master; until then calls on the dead master's slots fail fast (a refused
connection) or at the socket timeouts (a host that vanished). `require_full_coverage` is off:
while some slots have no master, keys in the others still work. Lua scripts are sent by SHA;
a node that lacks one (a replica just promoted) is sent the script itself (`KeyedScript`).
`ClusterClient` fixes three redis-py habits that cost time or calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis._parsers import AsyncCommandsParser
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from session_store.base import StoreConfig
from session_store.errors import SessionStoreUnavailable

#: URL schemes naming a Redis Cluster, and the single-server scheme each one's nodes speak.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
DEFAULT_PORT = 6379

# Backoff between attempts: random in [0, base * 2**failures], capped. Small on purpose: one
# retry after ~10 ms rides over a dropped pooled connection; a dead server fails fast anyway.
_BACKOFF_BASE_S = 0.01
_BACKOFF_CAP_S = 0.1

#: Either client; both offer the commands, scripts and pipelines the stores use.
RedisClient = Redis | RedisCluster


def is_cluster_url(url: str) -> bool:
    """Does `url` name a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)?"""
    return urlsplit(url).scheme.lower() in CLUSTER_SCHEMES


def retry_policy(config: StoreConfig) -> Retry:
    """The one retry policy: `config.retries` extra attempts, exponential backoff, jitter."""
    return Retry(
        ExponentialWithJitterBackoff(cap=_BACKOFF_CAP_S, base=_BACKOFF_BASE_S),
        retries=config.retries,
    )


def redis_client(url: str, config: StoreConfig) -> RedisClient:
    """A client for `url` with `config`'s timeouts and retry policy; it does not connect yet.

    Responses are decoded to `str`. Options in the URL's query win over `config`, as in
    redis-py's own `from_url`. A malformed URL raises `ValueError`.
    """
    settings: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": config.socket_timeout_s,
        "socket_connect_timeout": config.connect_timeout_s,
        "retry": retry_policy(config),
    }
    if not is_cluster_url(url):
        return Redis.from_url(url, **settings)
    nodes, options = parse_cluster_url(url)
    return ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        require_full_coverage=False,
        reinitialize_steps=0,
        **{**settings, **options},
    )


class ClusterClient(RedisCluster):
    """`RedisCluster` that knows the cluster's layout before it routes a command.

    redis-py picks a command's node before it learns the layout, so a burst of calls on a
    new client (or right after a connection error) goes to arbitrary nodes and comes back
    MOVED. On every fifth MOVED redis-py would then close *all* connections, failing the
    calls of the burst still in flight. Here each call first waits for the layout, and a
    MOVED only corrects that one slot (``reinitialize_steps=0``); connection errors, the sign
    of a failover, still re-read the whole layout. A cluster whose nodes serve no slot at
    all (not created yet) raises `RedisClusterException` rather than redis-py's IndexError.
    Its scripts (`register_script`) answer a NOSCRIPT on their keys' node (`KeyedScript`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands_parser = CommandTableOnce()

    def register_script(self, script: str | bytes) -> KeyedScript:  # type: ignore[override]
        return KeyedScript(self, script)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)

    async def initialize(self, *args: Any, **kwargs: Any) -> ClusterClient:
        try:
            await super().initialize(*args, **kwargs)
        except IndexError as exc:  # redis-py takes the first master it found: there is none
            raise RedisClusterException("no node of the cluster serves any slot") from exc
        return self


class KeyedScript(AsyncScript):
    """A Lua script run by SHA on its keys' node; a node that lacks it gets the script itself.

    redis-py's `Script` answers NOSCRIPT by loading the script on every master the client
    knows and trying again. Right after a failover that list can still hold the dead
    master, so the load fails and so does the call, although the promoted replica that
    owns the keys is up. EVAL sends the script to that node alone, which then keeps it.
    """

    async def __call__(  # type: ignore[override]
        self, keys: list[Any] | None = None, args: list[Any] | None = None
    ) -> Any:
        keys, args = keys or [], args or []
        client = self.registered_client
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.script, len(keys), *keys, *args)  # type: ignore[arg-type]


class CommandTableOnce(AsyncCommandsParser):
    """The cluster client's table of where each command's keys are, fetched only once.

    redis-py re-reads the cluster's layout after every connection error, and each time it
    also fetches and parses the whole COMMAND table: ~0.1 s of CPU on the event loop that
    serves keystrokes, once per failed call while a master is down. The table describes the
    Redis version, not the layout, so the first copy is kept; a refresh only moves the node
    that answers the rare key lookups the table cannot make alone.
    """

    async def initialize(self, node: ClusterNode | None = None) -> None:
        if not self.commands:
            await super().initialize(node)
        elif node is not None:
            self.node = node


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """([(host, port), ...] startup nodes, connection options) of a cluster URL.

    Options are what redis-py reads from a single-server URL with the same credentials,
    path and query, so both kinds of URL accept the same options.
    """
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError("a Redis Cluster URL starts with redis+cluster:// or rediss+cluster://")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    nodes = [_node(address) for address in hosts.split(",")]
    first = f"[{nodes[0][0]}]" if ":" in nodes[0][0] else nodes[0][0]
    single = urlunsplit(
        (scheme, f"{userinfo}{at}{first}:{nodes[0][1]}", parts.path, parts.query, "")
    )
    options: dict[str, Any] = dict(parse_url(single))
    options.pop("host", None)
    options.pop("port", None)
    if options.pop("connection_class", None) is SSLConnection:
        options["ssl"] = True
    if options.pop("db", 0) != 0:
        raise ValueError(f"a Redis Cluster has only database 0, not {parts.path!r}")
    return nodes, options


def _node(address: str) -> tuple[str, int]:
    """(host, port) of one ``host:port`` of a cluster URL. Messages never quote the whole URL,
    which may hold the password."""
    if not address.strip():
        raise ValueError("a Redis Cluster URL lists an empty node address")
    parts = urlsplit(f"//{address.strip()}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in Redis Cluster node {address!r}") from None
    if not parts.hostname:
        raise ValueError(f"Redis Cluster node {address!r} has no host")
    return parts.hostname, port if port is not None else DEFAULT_PORT


@contextmanager
def unavailable(operation: str) -> Iterator[None]:
    """Re-raise client, connection and timeout errors as `SessionStoreUnavailable`.

    Covers the cluster client's own errors too: `ClusterDownError` and `MovedError` are
    `RedisError`s, but "no reachable node" and `SlotNotCoveredError` are
    `RedisClusterException`s, which are not.
    """
    try:
        yield
    except (RedisError, RedisClusterException, OSError) as exc:  # OSError: TimeoutError, refused
        raise SessionStoreUnavailable(f"redis {operation} failed: {exc}") from exc
