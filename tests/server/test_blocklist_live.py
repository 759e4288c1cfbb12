"""Highlighting offsets and the blocklist, over a real `autocomplete serve` and real sockets.

The prefixes and blocked words are real: "free " completes, in the bundled AOL sample, to
several sexual queries among its top ten, exactly what a blocklist exists for.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.live_server import LiveServer

from .client import DEADLINE_S, complete, ws_session

pytestmark = pytest.mark.anyio

OFFENSIVE = ("fucking", "sex", "porn")


def rewrite(path: Path, text: str) -> None:
    """Replace the file and move its mtime forward, as any real edit does eventually.

    Some filesystems keep coarse mtimes; bumping it makes "the file changed" certain without
    waiting for the clock to tick.
    """
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def has_word(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text.split() for w in words)


async def test_every_item_says_which_characters_were_typed(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index) as live:
        async with ws_session(live.ws_url) as (ws, _):
            for i, prefix in enumerate(["g", "goo", "new ", "map of c"]):
                reply = await complete(ws, prefix, request_id=i, k=10)
                assert reply["items"], prefix
                for item in reply["items"]:
                    start, end = item["match"]
                    assert (start, end) == (0, len(prefix))
                    assert item["text"][start:end] == prefix


async def test_blocked_words_never_reach_the_user_and_k_items_still_do(
    built_sample_index: Path, tmp_path: Path
) -> None:
    with LiveServer(built_sample_index) as plain:
        async with ws_session(plain.ws_url) as (ws, _):
            unfiltered = await complete(ws, "free ", k=10)
    assert any(has_word(i["text"], OFFENSIVE) for i in unfiltered["items"]), (
        "the sample's real completions of 'free ' include offensive ones"
    )

    rules = tmp_path / "blocklist.txt"
    rules.write_text("# real words from the sample log\n" + "\n".join(OFFENSIVE) + "\n")
    with LiveServer(built_sample_index, env={"QAC_BLOCKLIST": str(rules)}) as live:
        assert live.healthz()["blocklist"] == {"rules": 3, "reloads": 0, "error": False}
        assert live.healthz()["details"]["blocklist_error"] is None
        async with ws_session(live.ws_url) as (ws, _):
            for i, prefix in enumerate(["free ", "new ", "se", "s"]):
                reply = await complete(ws, prefix, request_id=i, k=10)
                texts = [item["text"] for item in reply["items"]]
                assert len(texts) == 10, f"{prefix!r}: blocked items are replaced, not lost"
                assert not [t for t in texts if has_word(t, OFFENSIVE)], texts
                assert len(set(texts)) == len(texts)
            kept = [i["text"] for i in unfiltered["items"] if not has_word(i["text"], OFFENSIVE)]
            first = await complete(ws, "free ", request_id=9, k=10)
            assert [i["text"] for i in first["items"]][: len(kept)] == kept, (
                "the allowed items keep their order; the gaps are filled from further down"
            )


async def test_an_edited_blocklist_applies_without_a_restart_and_a_broken_one_keeps_the_rules(
    built_sample_index: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("sex\n")
    with LiveServer(built_sample_index, env={"QAC_BLOCKLIST": str(rules)}) as live:
        pid = live.healthz()["details"]["pid"]
        async with ws_session(live.ws_url) as (ws, _):
            every = [i["text"] for i in (await complete(ws, "goo", k=50))["items"]]
            assert "google" in every[:5]
            allowed = [t for t in every if not t.startswith("google")]

            rewrite(rules, "sex\nre:^google\\b\n")
            async with asyncio.timeout(DEADLINE_S):
                n = 1
                while True:  # polls until the ~1 s reload check has seen the edit
                    n += 1
                    texts = [i["text"] for i in (await complete(ws, "goo", n, k=5))["items"]]
                    if not any(t.startswith("google") for t in texts):
                        break
                    await asyncio.sleep(0.05)
            assert texts == allowed[:5], "all that is left of the prefix's completions"
            health = live.healthz()
            assert health["blocklist"] == {"rules": 2, "reloads": 1, "error": False}
            assert health["details"]["blocklist_error"] is None

            rewrite(rules, "sex\nre:(unclosed\n")
            async with asyncio.timeout(DEADLINE_S):
                while live.healthz()["details"]["blocklist_error"] is None:
                    await asyncio.sleep(0.05)
            health = live.healthz()
            assert "bad pattern" in health["details"]["blocklist_error"]
            assert health["blocklist"] == {"rules": 2, "reloads": 1, "error": True}, (
                "old rules still apply"
            )
            texts = [i["text"] for i in (await complete(ws, "goo", 999, k=5))["items"]]
            assert not any(t.startswith("google") for t in texts)
        assert live.healthz()["details"]["pid"] == pid


def test_a_missing_blocklist_file_stops_serve_before_it_starts(
    built_sample_index: Path, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="cannot read blocklist"):
        with LiveServer(built_sample_index, env={"QAC_BLOCKLIST": str(tmp_path / "nope.txt")}):
            pass
