"""A real server folds what a user types by the rules the index was built with, so
unaccented and full-width typing finds the log's accented queries over the wire."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.indexer.test_folded_labels import TYPED, offers
from tests.live_server import LiveServer

from .client import complete, ws_session

pytestmark = pytest.mark.anyio


async def test_unaccented_and_full_width_typing_finds_accented_queries_over_the_wire(
    accented_index_dir: Path,
) -> None:
    with LiveServer(accented_index_dir) as server:
        async with ws_session(server.ws_url) as (ws, _):
            for n, (typed, want) in enumerate(TYPED.items()):
                reply = await complete(ws, typed, request_id=n, k=10)
                texts = [item["text"] for item in reply["items"]]
                assert offers(texts, want), f"{typed!r} -> {texts}"
                assert reply["prefix"].isascii(), "the reply names the prefix as folded"
