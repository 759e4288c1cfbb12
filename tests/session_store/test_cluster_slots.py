"""Every script and transaction the stores send is legal on a Redis Cluster, as run.

Redis Cluster routes a script by its keys, so all of them must hash to one slot, and a
script must touch only the keys it was given (a key name computed inside Lua could
live on another node). This watches every master with MONITOR while each store runs each of
its operations, then asks the cluster itself: CLUSTER KEYSLOT for the declared keys, COMMAND
GETKEYS for what each command inside a script touched. No store sends a MULTI/EXEC at all.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import redis

from session_store.fresh import FreshConfig, RedisFreshCounts
from session_store.ledger import RedisLedger
from session_store.redis_store import RedisStore
from tests.cluster_server import HOST, LocalCluster

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.cluster]

_END = "qac-monitor-end"
_LINE = re.compile(r"^\+?\d+\.\d+ \[\d+ (?P<who>[^\]]+)\] (?P<args>.*)$")
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", '"': b'"', "\\": b"\\"}


def unquote(text: str) -> str:
    """One argument as MONITOR prints it (C escapes, \\xHH for other bytes) back to text."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1] == "x":
            out += bytes([int(text[i + 2 : i + 4], 16)])
            i += 4
        elif text[i] == "\\":
            out += _ESCAPES[text[i + 1]]
            i += 2
        else:
            out += text[i].encode()
            i += 1
    return out.decode()


@dataclass
class Call:
    """A command a client sent, with the commands a script ran on its behalf."""

    node: int
    args: list[str]
    inside: list[list[str]] = field(default_factory=list)


def watch(port: int, calls: list[Call], ready: threading.Event) -> None:
    """MONITOR `port` until the end marker, appending the calls it saw to `calls`."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(b"MONITOR\r\n")
        buffer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"MONITOR on {port} ended early")
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for raw in lines:
                line = raw.decode()
                if line == "+OK":
                    ready.set()
                    continue
                match = _LINE.match(line)
                if match is None:
                    continue
                args = [unquote(a) for a in _ARG.findall(match["args"])]
                if args[:2] == ["ECHO", _END]:
                    return
                if match["who"] == "lua":  # MONITOR prints a script's commands after it
                    calls[-1].inside.append(args)
                else:
                    calls.append(Call(port, args))


@contextmanager
def monitored(cluster: LocalCluster) -> Iterator[list[Call]]:
    """Every call the masters served inside the block, in each master's order."""
    per_node: dict[int, list[Call]] = {}
    threads = []
    for node in cluster.masters():
        ready = threading.Event()
        per_node[node.port] = []
        thread = threading.Thread(target=watch, args=(node.port, per_node[node.port], ready))
        thread.start()
        threads.append((node.port, thread))
        assert ready.wait(10), f"MONITOR on {node.port} did not start"
    calls: list[Call] = []
    try:
        yield calls
    finally:
        for port, thread in threads:
            with redis.Redis(HOST, port) as client:
                client.echo(_END)
            thread.join(10)
    for port, _ in threads:
        calls += per_node[port]


def keys_of(port: int, args: list[str]) -> list[str]:
    """The keys of a command, as the server parses them (COMMAND GETKEYS)."""
    with redis.Redis(HOST, port, decode_responses=True) as client:
        try:
            return list(client.command_getkeys(*args))
        except redis.ResponseError:  # a command without keys
            return []


async def every_operation(url: str) -> None:
    """Each store's every operation that reaches Redis, including both sides of each branch."""
    store = RedisStore(url)
    await store.append("anon-session", "cheap flights")
    await store.forget("anon-session", "cheap flights")
    await store.clear("anon-session")
    for session in ("s1", "s2"):
        await store.append(session, "weather", "alice")
        await store.append(session, 'погода "москва"\n', "alice")
    await store.record_user("alice", "weather")
    await store.user_history("alice")
    await store.recent("s1", "alice")
    await store.forget_user("alice", "weather")
    await store.forget_user("alice")
    await store.close()

    fresh = RedisFreshCounts(url, FreshConfig(min_users=2.0))
    for who in ("user:a", "user:b", "user:c"):
        await fresh.add("storm warning", who)
    await fresh.top(10)
    await fresh.forget("user:a", "storm warning")
    await fresh.forget("user:b")
    await fresh.close()

    ledger = RedisLedger(url)
    await ledger.join("client-1", "conn", cap=3, ttl_s=60)
    await ledger.heartbeat({"client-1": ["conn"], "client-2": ["x"]}, ttl_s=60)
    await ledger.add_frames({"client-1": 3, "client-2": 4}, window_s=60)
    await ledger.leave("client-1", "conn")
    await ledger.close()


@pytest.fixture
async def calls(redis_cluster: LocalCluster) -> list[Call]:
    redis_cluster.flush()
    with monitored(redis_cluster) as seen:
        await every_operation(redis_cluster.url)
    return seen


async def test_every_script_touches_only_its_declared_keys_and_they_share_one_slot(
    calls: list[Call], redis_cluster: LocalCluster
) -> None:
    # a node runs a script by SHA, or from its text the first time (it lacked the script)
    scripts = [c for c in calls if c.args[0].upper() in ("EVALSHA", "EVAL") and c.inside]
    # append (anonymous, user), record_user, forget_user, user_history, fresh add, forget and
    # top, ledger join
    assert len({script_sha(c.args) for c in scripts}) == 8
    for call in scripts:
        declared = call.args[3 : 3 + int(call.args[2])]
        assert len({redis_cluster.keyslot(key) for key in declared}) == 1, call.args
        for command in call.inside:
            touched = keys_of(call.node, command)
            assert set(touched) <= set(declared), f"{command} inside {call.args}"


def script_sha(args: list[str]) -> str:
    """The SHA of the script an EVALSHA or EVAL call runs."""
    return args[1] if args[0].upper() == "EVALSHA" else hashlib.sha1(args[1].encode()).hexdigest()


async def test_no_store_sends_a_transaction(calls: list[Call]) -> None:
    """Reads of several keys are scripts too: redis-py's cluster client runs each command of a
    MULTI/EXEC on a thread of its own, blocking the event loop for milliseconds."""
    assert calls, "MONITOR saw the operations"
    assert not [c.args for c in calls if c.args[0].upper() in ("MULTI", "EXEC", "WATCH")]
