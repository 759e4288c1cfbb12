"""Every memo a worker keeps is bounded and shows in `/metrics`: lookups by result (hit,
miss) and entries, under the name README lists it by."""

from __future__ import annotations

from pathlib import Path

from autocomplete.loader import load_index
from autocomplete.model.labels import SEP
from autocomplete.ranking import Context, PrefixHistory
from autocomplete.server.app import _memo_source
from autocomplete.server.assemble import unique
from autocomplete.server.metrics import ServerMetrics
from session_store.base import HistoryEntry

from .metrics_text import sample

MEMOS = {
    "exact",
    "typos",
    *(
        f"{table}_{kind}"
        for table in ("labels", "endings", "transitions")
        for kind in ("ranges", "tops", "texts")
    ),
    "lm_texts",
    "lm_words",
    "lm_bigrams",
    "spelling_prefixes",
    "spelling_words",
    "spelling_typed",
    "spelling_splits",
    "spelling_merges",
    "spelling_phrases",
    "spelling_searches",
    "spelling_followers",
    "spelling_plans",
    "xmr_prefix_blocks",
    "xmr_prefix_features",
    "xmr_context_features",
    "session_offers",
    "session_features",
    "session_words",
    "reply_normal_forms",
}


def test_every_memo_a_worker_keeps_is_counted_in_metrics(xmr_index_dir: Path) -> None:
    ranker = load_index(xmr_index_dir).ranker
    metrics = ServerMetrics("v1", "xmr", "memory")
    metrics.memo_source = _memo_source(ranker)
    # a previous query the transitions table knows, and what followed it
    previous, _, following = ranker.gen.transitions.text(0).partition(SEP)
    history = PrefixHistory((HistoryEntry(following, 3, 1.0e9),))
    session = [
        ("weather", Context()),
        (following, Context((previous,), history, 1.1e9)),
        ("new york tims squere", Context((previous, following), history, 1.1e9)),
        ("on line games", Context()),
        ("zqxjvkwzqxjvkw", Context()),  # past every label: a search with two edits
    ]
    for text, context in session:
        for n in range(1, len(text) + 1):
            unique(ranker.complete(context, text[:n], 10))  # as the server assembles a reply
    text = metrics.render()[0].decode()
    for memo in MEMOS:
        lookups = sum(
            sample(text, "qac_prefix_memo_lookups_total", memo=memo, result=r)
            for r in ("hit", "miss")
        )
        assert lookups > 0, memo
        assert sample(text, "qac_prefix_memo_entries", memo=memo) > 0, memo
    exported = {
        line.split('memo="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("qac_prefix_memo_entries{")
    }
    assert exported == MEMOS  # a new memo is added here, and to README's list, by name
