"""Finding 1, "anyone can be anyone": identity comes only from a verified credential.

A real server and a real Redis. Alice's history and session stay hers: a connection that
claims to be her with a bare parameter, a cookie, a forged token, or her session id, reads
none of it and erases none of it; a session id a client makes up is never adopted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials import as_user, user_token
from tests.live_server import LiveServer
from tests.redis_server import RedisServer
from tests.server.client import ask, complete, ws_session

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

ALICES = "alice private search about her landlord"


@pytest.fixture
def server(built_sample_index: Path, own_redis_server: RedisServer) -> Iterator[LiveServer]:
    with LiveServer(built_sample_index, redis_url=own_redis_server.url) as live:
        yield live


async def alice_submits(server: LiveServer) -> str:
    """Alice searches once; returns the session id she was issued."""
    async with ws_session(as_user(server.ws_url, "alice")) as (ws, hello):
        assert hello["auth"] == "user"
        assert (await ask(ws, {"type": "submit", "id": 1, "query": ALICES}))["stored"] is True
        return str(hello["session"])


async def recent_of(url: str, **options: object) -> list[str]:
    async with ws_session(url, **options) as (ws, _):
        return [i["text"] for i in (await complete(ws, "", k=10))["items"]]


async def test_alice_sees_her_own_recent_searches(server: LiveServer) -> None:
    await alice_submits(server)
    assert ALICES in await recent_of(as_user(server.ws_url, "alice"))


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?user=alice", {}),
        ("", {"Cookie": "qac_user=alice"}),
        ("?token=" + user_token("alice", secret="x" * 40), {}),
        ("?token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.", {}),
    ],
    ids=["bare-parameter", "cookie", "token-of-another-key", "unsigned-token"],
)
async def test_a_claim_without_alices_credential_reads_nothing_of_hers(
    server: LiveServer, query: str, headers: dict[str, str]
) -> None:
    await alice_submits(server)
    url = server.ws_url + query
    async with ws_session(url, additional_headers=headers) as (ws, hello):
        assert hello["auth"] == "anonymous"
        assert ALICES not in [i["text"] for i in (await complete(ws, "", k=10))["items"]]
        assert ALICES not in [i["text"] for i in (await complete(ws, "alice p", k=10))["items"]]


async def test_a_forged_forget_all_leaves_alices_history_alone(server: LiveServer) -> None:
    await alice_submits(server)
    async with ws_session(server.ws_url + "?user=alice") as (ws, _):
        assert (await ask(ws, {"type": "forget", "id": 1, "all": True}))["stored"] is True
    assert ALICES in await recent_of(as_user(server.ws_url, "alice"))


async def test_alices_session_id_without_her_credential_does_not_resume_her_session(
    server: LiveServer,
) -> None:
    session = await alice_submits(server)
    for url in (
        f"{server.ws_url}?session={session}",
        f"{server.ws_url}?session={session}&token={user_token('mallory')}",
    ):
        async with ws_session(url) as (ws, hello):
            assert hello["session"] != session, "replaced, never adopted"
            assert ALICES not in [i["text"] for i in (await complete(ws, "", k=10))["items"]]
    async with ws_session(
        server.ws_url, additional_headers={"Cookie": f"qac_session={session}"}
    ) as (_, hello):
        assert hello["session"] != session


async def test_alice_resumes_her_own_session_with_her_credential(server: LiveServer) -> None:
    session = await alice_submits(server)
    async with ws_session(as_user(server.ws_url, "alice", session=session)) as (_, hello):
        assert hello["session"] == session


async def test_a_client_chosen_session_id_is_never_adopted(server: LiveServer) -> None:
    """Session fixation: an attacker plants a known id, then waits for the victim to use it."""
    planted = "attacker-knows-this-id"
    async with ws_session(f"{server.ws_url}?session={planted}") as (ws, hello):
        assert hello["session"] != planted
        assert ws.response.headers["set-cookie"].startswith(f"qac_session={hello['session']};")


async def test_an_expired_token_is_anonymous_and_the_client_is_told_why(server: LiveServer) -> None:
    await alice_submits(server)
    expired = user_token("alice", ttl_s=60, now=time.time() - 3600)
    async with ws_session(f"{server.ws_url}?token={expired}") as (ws, hello):
        assert hello["auth"] == "anonymous" and hello["auth_error"] == "expired"
        assert ALICES not in [i["text"] for i in (await complete(ws, "", k=10))["items"]]
