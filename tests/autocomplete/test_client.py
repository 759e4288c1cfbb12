"""The Python client against a real server: hello, complete, submit, forget, identity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autocomplete.client import (
    ConnectFailed,
    Limits,
    QacClient,
    RequestFailed,
    check_url,
    with_params,
)
from autocomplete.server.protocol import PROTOCOL_VERSION
from tests.credentials import user_token
from tests.live_server import LiveServer, built_sample_index, free_port  # noqa: F401

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def live(built_sample_index: Path) -> Iterator[LiveServer]:  # noqa: F811
    with LiveServer(built_sample_index, env={"QAC_MAX_K": "8", "QAC_DEFAULT_K": "5"}) as server:
        yield server


async def test_hello_names_the_session_index_protocol_and_limits(live) -> None:
    async with await QacClient.connect(live.ws_url) as qac:
        hello = qac.hello
        assert hello.session and qac.session == hello.session
        assert hello.index == live.healthz()["index"]["version"]
        assert (hello.auth, hello.auth_error) == ("anonymous", None)
        assert hello.protocol == PROTOCOL_VERSION
        assert hello.limits == Limits(max_k=8, max_prefix_chars=200, max_query_chars=500)


async def test_complete_returns_items_extending_the_normalised_prefix(live) -> None:
    async with await QacClient.connect(live.ws_url) as qac:
        reply = await qac.complete("  New Y", k=5)
        assert reply.prefix == "new y" and 0 < len(reply.items) <= 5
        for item in reply.items:
            assert item.text.startswith("new y") and item.source == "index"
            assert item.match == (0, 5) and not item.corrected
        assert reply.took_ms is not None and reply.took_ms >= 0
        assert len((await qac.complete("g", k=100)).items) == 8, "served as the server's max_k"


async def test_submit_and_forget_change_what_an_empty_prefix_lists(live) -> None:
    async with await QacClient.connect(live.ws_url) as qac:
        assert {i.source for i in (await qac.complete("")).items} == {"index"}, "popular"
        assert await qac.submit("Cheap Flights") is True
        assert await qac.submit("weather") is True
        recent = await qac.complete("")
        assert [i.text for i in recent.items] == ["weather", "cheap flights"]
        assert await qac.forget("weather") is True
        assert [i.text for i in (await qac.complete("")).items] == ["cheap flights"]
        assert await qac.forget(all=True) is True
        assert {i.source for i in (await qac.complete("")).items} == {"index"}


async def test_a_session_is_resumed_by_its_id(live) -> None:
    async with await QacClient.connect(live.ws_url) as qac:
        await qac.submit("maps")
        session = qac.session
    async with await QacClient.connect(live.ws_url, session=session) as again:
        assert again.session == session
        assert [i.text for i in (await again.complete("")).items] == ["maps"]
    async with await QacClient.connect(live.ws_url, session="made-up") as other:
        assert other.session != "made-up", "a made-up id is replaced"


async def test_a_token_makes_the_connection_the_users(live) -> None:
    async with await QacClient.connect(live.ws_url, token=user_token("carol")) as qac:
        assert qac.hello.auth == "user"
    expired = user_token("carol", ttl_s=-3600)
    async with await QacClient.connect(live.ws_url, token=expired) as qac:
        assert (qac.hello.auth, qac.hello.auth_error) == ("anonymous", "expired")


async def test_an_error_frame_raises_and_the_connection_goes_on(live) -> None:
    async with await QacClient.connect(live.ws_url) as qac:
        with pytest.raises(RequestFailed) as info:
            await qac.complete("x" * 1000)
        assert info.value.code == "bad_request" and "1000 characters" in info.value.message
        with pytest.raises(RequestFailed, match="empty after normalisation"):
            await qac.submit("   ")
        assert (await qac.complete("goo")).items


async def test_forget_wants_a_query_or_all_not_both() -> None:
    qac = QacClient.__new__(QacClient)
    for kwargs in ({}, {"query": "x", "all": True}):
        with pytest.raises(ValueError, match="either a query or all=True"):
            await qac.forget(**kwargs)  # type: ignore[arg-type]


async def test_connecting_nowhere_fails_and_says_whether_retrying_can_help() -> None:
    with pytest.raises(ConnectFailed) as refused:
        await QacClient.connect(f"ws://127.0.0.1:{free_port()}/ws", open_timeout_s=2)
    assert not refused.value.permanent and "refused" in refused.value.reason
    for url in ("http://127.0.0.1:1/ws", "ws:///ws", "ws://h:port/ws"):
        with pytest.raises(ConnectFailed) as bad:
            check_url(url)
        assert bad.value.permanent


async def test_a_refused_handshake_is_permanent_for_client_errors(live) -> None:
    with pytest.raises(ConnectFailed) as info:
        await QacClient.connect(live.ws_url, headers={"Origin": "https://evil.example"})
    assert info.value.permanent and "403" in info.value.reason


def test_parameters_are_set_and_others_kept() -> None:
    assert with_params("ws://h:1/ws?a=1&token=old", token="t", session=None) == (
        "ws://h:1/ws?a=1&token=t"
    )
    assert with_params("ws://h:1/ws", session="s") == "ws://h:1/ws?session=s"
