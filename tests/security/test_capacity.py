"""Finding 4, "one client can take all capacity": fair shares per client address.

One address may hold only so many sockets (shared across workers with Redis) and send only so
many frames over all of them; sockets that never send are closed; connections that never
finish their HTTP headers are dropped. Everyone else keeps being served.

All test clients come from 127.0.0.1, so "another client" is one behind a trusted proxy
(`QAC_TRUSTED_PROXIES=127.0.0.1`) that names a different address in `X-Forwarded-For`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from tests.live_server import LiveServer
from tests.redis_server import RedisServer
from tests.server.client import DEADLINE_S, ask, closed_with, complete, ws_session
from tests.server.metrics_text import sample

pytestmark = [pytest.mark.anyio]

BEHIND_PROXY = {"QAC_TRUSTED_PROXIES": "127.0.0.1"}


def client(address: str) -> dict[str, str]:
    return {"additional_headers": {"X-Forwarded-For": address}}  # type: ignore[dict-item]


async def hold_open(url: str, n: int, **options: object) -> tuple[list, int]:
    """Open `n` sockets; returns (the open ones, how many were refused with HTTP 429)."""
    stack = contextlib.AsyncExitStack()
    opened, refused = [], 0
    for _ in range(n):
        try:
            opened.append(await stack.enter_async_context(ws_session(url, **options)))
        except InvalidStatus as exc:
            assert exc.response.status_code == 429, exc.response.status_code
            refused += 1
    return [stack, *opened], refused


async def test_one_address_cannot_take_every_slot(built_sample_index: Path) -> None:
    env = {**BEHIND_PROXY, "QAC_MAX_CONNECTIONS_PER_CLIENT": "5", "QAC_MAX_CONNECTIONS": "50"}
    with LiveServer(built_sample_index, env=env) as live:
        held, refused = await hold_open(live.ws_url, 30, **client("198.51.100.7"))
        try:
            assert len(held) - 1 == 5 and refused == 25
            async with ws_session(live.ws_url, **client("203.0.113.20")) as (ws, _):
                assert (await complete(ws, "goo"))["items"], "another client still gets in"
            assert (
                sample(live.metrics(), "qac_refused_connections_total", reason="client_cap") == 25
            )
        finally:
            await held[0].aclose()
        async with ws_session(live.ws_url, **client("198.51.100.7")) as (ws, _):
            assert (await complete(ws, "goo"))["items"], "closing frees the address's share"


async def test_a_reconnect_loop_from_one_address_is_refused_before_its_handshake(
    built_sample_index: Path,
) -> None:
    env = {
        **BEHIND_PROXY,
        "QAC_CLIENT_HANDSHAKE_RATE_PER_S": "0.01",  # no refill within the test
        "QAC_CLIENT_HANDSHAKE_BURST": "4",
    }
    with LiveServer(built_sample_index, env=env) as live:
        admitted = refused = 0
        for _ in range(10):  # open and close at once, as a reconnect loop does
            try:
                async with ws_session(live.ws_url, **client("198.51.100.9")):
                    admitted += 1
            except InvalidStatus as exc:
                assert exc.response.status_code == 429
                assert exc.response.headers["Retry-After"] == "1"
                refused += 1
        assert (admitted, refused) == (4, 6)
        assert sample(live.metrics(), "qac_refused_connections_total", reason="client_rate") == 6
        assert sample(live.metrics(), "qac_auth_total", result="anonymous") == 4, (
            "a refused handshake is not authenticated at all"
        )
        async with ws_session(live.ws_url, **client("203.0.113.21")) as (ws, _):
            assert (await complete(ws, "goo"))["items"], "another address still gets in"


async def test_forwarding_headers_from_anyone_but_a_trusted_proxy_are_ignored(
    built_sample_index: Path,
) -> None:
    env = {"QAC_MAX_CONNECTIONS_PER_CLIENT": "3"}  # no trusted proxies
    with LiveServer(built_sample_index, env=env) as live:
        stack = contextlib.AsyncExitStack()
        async with stack:
            refused = 0
            for i in range(6):  # each claims a different address
                try:
                    await stack.enter_async_context(
                        ws_session(live.ws_url, **client(f"192.0.2.{i}"))
                    )
                except InvalidStatus:
                    refused += 1
            assert refused == 3, "all six are 127.0.0.1, whatever they claim"


@pytest.mark.redis
async def test_the_per_address_share_holds_across_workers_with_redis(
    built_sample_index: Path, own_redis_server: RedisServer
) -> None:
    env = {**BEHIND_PROXY, "QAC_MAX_CONNECTIONS_PER_CLIENT": "4"}
    with LiveServer(built_sample_index, redis_url=own_redis_server.url, workers=2, env=env) as live:
        held, refused = await hold_open(live.ws_url, 16, **client("198.51.100.9"))
        try:
            assert len(held) - 1 == 4 and refused == 12, "4 in all, not 4 per worker"
        finally:
            await held[0].aclose()


async def test_the_frame_budget_is_shared_by_an_addresss_connections(
    built_sample_index: Path,
) -> None:
    env = {**BEHIND_PROXY, "QAC_CLIENT_RATE_PER_S": "1", "QAC_CLIENT_RATE_BURST": "10"}
    with LiveServer(built_sample_index, env=env) as live:
        async with (
            ws_session(live.ws_url, **client("198.51.100.3")) as (a, _),
            ws_session(live.ws_url, **client("198.51.100.3")) as (b, _),
        ):
            codes = []
            for i in range(10):  # 20 frames: each socket is far below its own limit (50/s)
                for ws in (a, b):
                    reply = await ask(ws, {"type": "complete", "id": i, "prefix": "g"})
                    codes.append(reply.get("code"))
            assert codes.count("rate_limited") >= 9, codes
            async with ws_session(live.ws_url, **client("203.0.113.5")) as (other, _):
                assert (await complete(other, "goo"))["items"], "other addresses are unaffected"


async def test_a_socket_that_never_sends_is_closed_with_4408(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, env={"QAC_IDLE_TIMEOUT_S": "0.5"}) as live:
        async with ws_session(live.ws_url) as (ws, _):
            code, reason = await closed_with(ws)
            assert (code, reason) == (4408, "idle timeout")
        async with ws_session(live.ws_url) as (ws, _):
            for i in range(3):  # a typing user is never idle
                await asyncio.sleep(0.3)
                assert (await complete(ws, "g", request_id=i))["items"]
        assert sample(live.metrics(), "qac_server_closes_total", reason="idle") >= 1


async def test_half_sent_http_headers_are_dropped_after_the_header_timeout(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index, env={"QAC_HEADER_TIMEOUT_S": "0.5"}) as live:

        def slowloris() -> bytes:
            with socket.create_connection((live.host, live.port), timeout=DEADLINE_S) as sock:
                sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
                return sock.recv(1024)  # b"" once the server closes

        assert await asyncio.to_thread(slowloris) == b""

        def silent() -> bytes:
            with socket.create_connection((live.host, live.port), timeout=DEADLINE_S) as sock:
                return sock.recv(1024)

        assert await asyncio.to_thread(silent) == b"", "a connection that says nothing too"
        status, _ = live.get("/healthz")
        assert status == 200, "complete requests are unaffected"


async def test_one_address_can_hold_only_a_few_half_sent_requests(
    built_sample_index: Path,
) -> None:
    env = {"QAC_HEADER_TIMEOUT_S": "60", "QAC_MAX_CONNECTIONS_PER_CLIENT": "5"}
    with LiveServer(built_sample_index, env=env) as live:

        def trickle(n: int) -> tuple[int, int]:
            """Open `n` half-sent requests; (closed by the server, still open)."""
            socks = []
            try:
                for _ in range(n):
                    sock = socket.create_connection((live.host, live.port), timeout=DEADLINE_S)
                    socks.append(sock)
                    with contextlib.suppress(OSError):  # a refused one may be reset already
                        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                closed = 0
                for sock in socks[5:]:  # past the share: closed without a reply
                    try:
                        closed += sock.recv(1024) == b""
                    except ConnectionResetError:
                        closed += 1
                still_open = 0
                for sock in socks[:5]:
                    sock.setblocking(False)
                    try:
                        sock.recv(1024)
                    except BlockingIOError:
                        still_open += 1
                return closed, still_open
            finally:
                for sock in socks:
                    sock.close()

        assert await asyncio.to_thread(trickle, 12) == (7, 5)
        status, _ = live.get("/healthz")
        assert status == 200, "complete requests from the same address still work"
