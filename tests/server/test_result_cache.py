"""The server's answer cache: replies with it equal replies without it, whatever the fresh
queries and the blocklist do meanwhile; its lookups and size show in the metrics."""

from __future__ import annotations

import os
from pathlib import Path

from autocomplete.blocklist import ReloadingBlocklist
from autocomplete.fresh import FreshIndex
from autocomplete.loader import load_index
from autocomplete.ranking import Context
from autocomplete.result_cache import CachedRanker
from autocomplete.server.freshness import FreshFeed
from autocomplete.server.metrics import ServerMetrics
from autocomplete.server.protocol import Limits
from autocomplete.server.pseudonyms import Pseudonyms
from autocomplete.server.services import Services
from autocomplete.server.store_gateway import StoreGateway
from session_store.fresh import FreshConfig, MemoryFreshCounts
from session_store.memory import MemoryStore

from .metrics_text import sample

PREFIXES = ["g", "go", "goo", "new ", "new y", "www.", "the be", "s", "ya"]


def services(ranker, blocklist: ReloadingBlocklist, feed: FreshFeed, metrics) -> Services:
    gateway = feed.gateway
    return Services(
        ranker=ranker,
        gateway=gateway,
        metrics=metrics,
        limits=Limits(),
        rate_per_s=100.0,
        rate_burst=100,
        flood_close_after=10,
        drain_timeout_s=1.0,
        blocks=blocklist.blocks,
        fresh=feed,
    )


def test_cached_replies_equal_uncached_ones_across_fresh_and_blocklist_changes(
    xmr_index_dir, tmp_path: Path
) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("# nothing yet\n")
    blocklist = ReloadingBlocklist(rules, check_every_s=0.0)
    metrics = ServerMetrics("v1", "xmr", "memory")
    store = MemoryStore()
    gateway = StoreGateway(store, metrics, read_timeout_s=1, write_timeout_s=1, retry_after_s=1)
    feed = FreshFeed(
        MemoryFreshCounts(FreshConfig()), gateway, 1.0, 100, Pseudonyms("s" * 32), 0.25
    )
    cached = CachedRanker(load_index(xmr_index_dir).ranker, observe=metrics.result_cache_lookup)
    with_cache = services(cached, blocklist, feed, metrics)
    without = services(load_index(xmr_index_dir).ranker, blocklist, feed, metrics)

    def agree(previous: tuple[str, ...] = ()) -> list[list[str]]:
        replies = []
        for prefix in PREFIXES:
            context = Context(previous, (), 1.0)
            got = with_cache.ranked(context, prefix, 10)
            assert got == without.ranked(context, prefix, 10), prefix
            replies.append([c.text for c in got])
        return replies

    before = agree()
    agree(("ebay",))
    # a fresh snapshot arrives: a trending query must show in the very next cached reply
    feed.index = FreshIndex([("goober grape", 50.0), ("youtube music", 9.0)])
    trending = agree()
    assert "goober grape" in trending[PREFIXES.index("goo")]
    # the operator blocks a word the cached answers hold: it disappears at once
    blocked_word = before[PREFIXES.index("go")][0].split()[0]
    rules.write_text(f"{blocked_word}\n")
    os.utime(rules, ns=(0, 10**18))
    after = agree()
    assert all(blocked_word not in t.split() for reply in after for t in reply)
    assert cached.hits > 0
    text = metrics.render()[0].decode()
    assert sample(text, "qac_result_cache_lookups_total", result="hit") == cached.hits
    assert sample(text, "qac_result_cache_lookups_total", result="miss") == cached.misses
    assert sample(text, "qac_result_cache_entries") == len(cached)


def test_the_rankers_prefix_memos_are_counted_in_metrics(xmr_index_dir: Path) -> None:
    ranker = load_index(xmr_index_dir).ranker
    metrics = ServerMetrics("v1", "xmr", "memory")
    metrics.memo_source = ranker.memo_stats

    def exact(result: str) -> float:
        text = metrics.render()[0].decode()
        return sample(text, "qac_prefix_memo_lookups_total", memo="exact", result=result)

    for prefix in ("g", "go", "g", "new y"):
        ranker.complete(Context(), prefix, 10)
    assert (exact("hit"), exact("miss")) == (1, 3)
    text = metrics.render()[0].decode()
    assert sample(text, "qac_prefix_memo_entries", memo="exact") == 3
    ranker.complete(Context(), "go", 10)  # counters grow by what happened since the last scrape
    assert (exact("hit"), exact("miss")) == (2, 3)


def test_the_spelling_correctors_memos_are_counted_in_metrics(xmr_index_dir: Path) -> None:
    ranker = load_index(xmr_index_dir).ranker
    metrics = ServerMetrics("v1", "xmr", "memory")
    metrics.memo_source = ranker.memo_stats
    typed = "zqxjvkwzqxjvkw"  # nothing extends it: every keystroke from 4 bytes on corrects
    for n in range(1, len(typed) + 1):
        ranker.complete(Context(), typed[:n], 10)
    text = metrics.render()[0].decode()

    def count(memo: str, result: str) -> float:
        return sample(text, "qac_prefix_memo_lookups_total", memo=memo, result=result)

    # the searches typed on past the typo are answered by the closed ones, not run again
    assert count("spelling_searches", "miss") > 0 and count("spelling_searches", "hit") > 0
    assert sample(text, "qac_prefix_memo_entries", memo="spelling_searches") > 0
    assert count("spelling_prefixes", "miss") == len(typed) - 3  # one per prefix from 4 bytes
    assert sample(text, "qac_prefix_memo_entries", memo="spelling_words") > 0
