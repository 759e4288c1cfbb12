"""A real Redis Cluster for tests: masters and replicas on free 127.0.0.1 ports.

    with LocalCluster(masters=3, replicas=1) as cluster:  # created; cluster_state:ok everywhere
        RedisStore(cluster.url)                           # redis+cluster://127.0.0.1:p1,...
        node = cluster.master_of("qac:user:{alice}")      # the master serving that key's slot
        node.kill()                                       # SIGKILL it: a crash
        cluster.wait_ok()                                 # a replica has taken over its slots

Each node is a `tests.redis_server.RedisServer` started in cluster mode, in a directory of its
own (where it keeps ``nodes.conf``); ``redis-cli --cluster create`` assigns the slots and the
replicas. Readiness (every live node sees all slots served and every replica is in sync) is
polled with a deadline, never a fixed sleep. A node's cluster bus listens on its port + 10000,
so nodes get ports whose bus port is free too.

In a conftest, ``redis_cluster = redis_cluster_fixture(scope="session")`` gives a fixture of
that name yielding a started cluster, and skips the test when ``redis-server`` or
``redis-cli`` is not on PATH.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

import pytest
import redis

from tests.redis_server import HOST, RedisServer, free_port, require_redis_server

#: Offset of a node's cluster bus port from its client port (fixed by Redis).
BUS_OFFSET = 10000
SLOTS = 16384
_POLL_INTERVAL_S = 0.02


def require_redis_cli() -> str:
    """Path of ``redis-cli``; skips the calling test when it is missing."""
    path = shutil.which("redis-cli")
    if path is None:
        pytest.skip("redis-cli is not on PATH (apt-get install redis-tools); CI installs it")
    return path


def free_node_port() -> int:
    """A free port whose cluster bus port (+10000) was free a moment ago too."""
    for _ in range(200):
        port = free_port()
        if port + BUS_OFFSET > 65535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port + BUS_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port with a free cluster bus port found")


def command(port: int, *args: str, timeout_s: float = 1.0) -> str:
    """One CLUSTER command to the node on `port`, its reply as text (redis-py parses no
    reply of a command it knows only by its first word)."""
    with redis.Redis(HOST, port, socket_timeout=timeout_s, decode_responses=True) as client:
        return str(client.execute_command(*args))


def info(port: int, section: str, timeout_s: float = 1.0) -> dict[str, Any]:
    """One INFO section of the node on `port`, as redis-py parses it."""
    with redis.Redis(HOST, port, socket_timeout=timeout_s, decode_responses=True) as client:
        return dict(client.info(section))


def info_fields(text: str) -> dict[str, str]:
    """``key:value`` lines of an INFO or CLUSTER INFO reply."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


class LocalCluster:
    """`masters` masters, each with `replicas` replicas, all on 127.0.0.1.

    node_timeout_ms: ``cluster-node-timeout``: how long a silent master has before the others
    mark it failed and its replica takes over (small for failover tests). Every replica may
    take over whatever its replication lag (``cluster-replica-validity-factor 0``), and the
    cluster keeps serving the slots it still has while others have no master
    (``cluster-require-full-coverage no``), as `docker-compose.yml`'s cluster does. Replicas
    sync at once (``repl-diskless-sync-delay 0``) rather than after Redis's default 5 s.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 1,
        *,
        node_timeout_ms: int = 5000,
        startup_timeout_s: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")
        self.masters_wanted = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = list(extra_args)
        self.nodes: list[RedisServer] = []

    @property
    def url(self) -> str:
        """The cluster URL the stores take, listing the first masters as startup nodes."""
        seeds = self.nodes[: self.masters_wanted]
        return "redis+cluster://" + ",".join(f"{HOST}:{node.port}" for node in seeds)

    def start(self) -> LocalCluster:
        """Start the nodes, create the cluster, wait until it is whole; no-op when started."""
        if self.nodes:
            return self
        cli = shutil.which("redis-cli")
        if cli is None:
            raise FileNotFoundError("redis-cli is not on PATH")
        try:
            for _ in range(self.masters_wanted * (1 + self.replicas)):
                self.nodes.append(self._start_node())
            addresses = [f"{HOST}:{node.port}" for node in self.nodes]
            create = [cli, "--cluster", "create", *addresses]
            create += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
            done = subprocess.run(create, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                output = done.stdout + done.stderr
                raise RuntimeError(f"redis-cli --cluster create failed:\n{output}")
            self.wait_ok(self.startup_timeout_s)
        except BaseException:
            self.close()
            raise
        return self

    def _start_node(self) -> RedisServer:
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-replica-validity-factor", "0",
            "--cluster-require-full-coverage", "no",
            "--repl-diskless-sync-delay", "0",
            *self.extra_args,
        ]  # fmt: skip
        for _ in range(5):
            node = RedisServer(free_node_port(), extra_args=args)
            try:
                return node.start()
            except RuntimeError as exc:  # lost a race for the port or its bus port
                if "already in use" not in str(exc):
                    raise
        raise RuntimeError("could not start a cluster node on a free port")

    def live(self) -> list[RedisServer]:
        return [node for node in self.nodes if node.running]

    def wait_ok(self, timeout_s: float = 30.0) -> None:
        """Return once every live node knows every node, sees all slots served, and every
        live replica is in sync with its master; TimeoutError (with the topology) after
        `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not self._whole():
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ok after {timeout_s}s:\n{self.topology()}")
            time.sleep(_POLL_INTERVAL_S)

    def _whole(self) -> bool:
        try:
            for node in self.live():
                state = info_fields(command(node.port, "CLUSTER", "INFO"))
                if (
                    state.get("cluster_state") != "ok"
                    or state.get("cluster_slots_ok") != str(SLOTS)
                    or state.get("cluster_known_nodes") != str(len(self.nodes))
                ):
                    return False
                role = info(node.port, "replication")
                if role["role"] == "slave" and role.get("master_link_status") != "up":
                    return False
        except (redis.RedisError, OSError):
            return False
        return True

    def wait_replicated(self, master: RedisServer, timeout_s: float = 10.0) -> None:
        """Return once every replica of `master` has everything it wrote (replication is
        asynchronous: a write the master acknowledged may not have reached its replica)."""
        deadline = time.monotonic() + timeout_s
        while True:
            role = info(master.port, "replication")
            replicas = [v for k, v in role.items() if k.startswith("slave") and k[5:].isdigit()]
            if replicas and all(r["offset"] == role["master_repl_offset"] for r in replicas):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"replicas of {master.port} lag: {role}")
            time.sleep(_POLL_INTERVAL_S)

    def topology(self) -> str:
        """CLUSTER NODES as a live node sees it (for failure messages)."""
        for node in self.live():
            try:
                return command(node.port, "CLUSTER", "NODES")
            except (redis.RedisError, OSError):
                continue
        return "(no live node answers)"

    def keyslot(self, key: str) -> int:
        """The slot of `key`, as the cluster itself computes it (CLUSTER KEYSLOT)."""
        return int(command(self.live()[0].port, "CLUSTER", "KEYSLOT", key))

    def masters(self) -> list[RedisServer]:
        """The live nodes that currently serve slots."""
        serving = set()
        for line in self.topology().splitlines():
            fields = line.split()
            if len(fields) > 8 and "master" in fields[2] and "fail" not in fields[2]:
                serving.add(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return [node for node in self.live() if node.port in serving]

    def master_of(self, key: str) -> RedisServer:
        """The live master serving `key`'s slot."""
        slot = self.keyslot(key)
        for line in self.topology().splitlines():
            fields = line.split()
            if len(fields) <= 8 or "master" not in fields[2] or "fail" in fields[2]:
                continue
            for span in fields[8:]:
                if span.startswith("["):  # a slot being migrated
                    continue
                first, _, last = span.partition("-")
                if int(first) <= slot <= int(last or first):
                    port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                    return next(node for node in self.nodes if node.port == port)
        raise LookupError(f"no live master serves slot {slot}:\n{self.topology()}")

    def flush(self) -> None:
        """Empty every master (replicas follow)."""
        for node in self.masters():
            command(node.port, "FLUSHALL")

    def close(self) -> None:
        """Stop every node and delete their directories. Nodes are killed: a master asked to
        SHUTDOWN first waits for its replicas to catch up, and there is nothing to keep."""
        nodes, self.nodes = self.nodes, []
        for node in nodes:
            node.kill()
            node.close()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalCluster({self.url}, {len(self.live())}/{len(self.nodes)} nodes live)"


def redis_cluster_fixture(
    *,
    scope: Literal["session", "package", "module", "class", "function"] = "session",
    masters: int = 3,
    replicas: int = 1,
    node_timeout_ms: int = 5000,
) -> Callable[[], Iterator[LocalCluster]]:
    """A pytest fixture yielding a started `LocalCluster`, closed afterwards.

    Tests using it are skipped when ``redis-server`` or ``redis-cli`` is not on PATH.
    """

    @pytest.fixture(scope=scope)
    def _redis_cluster() -> Iterator[LocalCluster]:
        require_redis_server()
        require_redis_cli()
        cluster = LocalCluster(masters, replicas, node_timeout_ms=node_timeout_ms)
        with cluster:
            yield cluster

    return _redis_cluster
