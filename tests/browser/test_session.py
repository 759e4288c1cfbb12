"""The session panel shows what the server keeps as context; new sessions start from nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .demo import DemoPage

pytestmark = pytest.mark.browser

SESSION_AWARE_MODEL = "xmr-"


def frequent_session_pair(log: Path) -> tuple[str, str]:
    """The most frequent (previous, next) query pair of the log's training sessions."""
    from indexer.dataset import load_split
    from indexer.sessions import pairs

    counts = Counter(
        (prev, nxt)
        for prev, nxt, _, _ in pairs(load_split([log]).train)
        if prev and prev != nxt and len(nxt) >= 3
    )
    (prev, nxt), _ = counts.most_common(1)[0]
    return prev, nxt


def test_a_submitted_query_becomes_the_previous_query_in_the_panel(
    page: Any, demo_server: Any
) -> None:
    demo = DemoPage(page, demo_server.url).open()
    assert "none yet" in demo.previous_query()
    session = demo.session_id()
    assert page.text_content("#session-id") == session
    assert page.text_content("#index-version") == demo.index_version()
    demo.submit_query("weather")
    demo.wait_previous_query("weather")
    demo.submit_query("google maps")
    demo.wait_previous_query("google maps")
    assert page.eval_on_selector_all("#history li", "els => els.map(e => e.textContent)") == [
        "google maps",
        "weather",
    ]
    assert demo.session_id() == session, "submits stay in one session"


def test_new_session_gets_a_fresh_id_and_clears_the_panel(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    old = demo.session_id()
    demo.submit_query("weather")
    demo.wait_previous_query("weather")
    page.click("#new-session")
    page.wait_for_function(
        "(old) => window.qacDemo.session && window.qacDemo.session !== old", arg=old
    )
    demo.wait_state("open")
    assert "none yet" in demo.previous_query()
    assert page.eval_on_selector_all("#history li", "els => els.length") == 0
    new = demo.session_id()
    page.wait_for_function(
        "(s) => document.querySelector('#session-id').textContent === s", arg=new
    )
    # The new id is what the server announced in hello for the new socket.
    hellos = [e for e in demo.events("status") if e.get("hello")]
    assert hellos[-1]["hello"]["session"] == new
    # The session survives a reload of the page (sessionStorage), until "New session".
    page.reload()
    demo.wait_state("open")
    page.wait_for_function("() => window.qacDemo.session")
    assert demo.session_id() == new


def test_suggestions_change_after_a_submit_when_the_index_is_session_aware(
    page: Any, demo_server: Any, sample_log: Path
) -> None:
    demo = DemoPage(page, demo_server.url).open()
    index = demo.index_version()
    if not index.startswith(SESSION_AWARE_MODEL):
        pytest.skip(
            f"the served index {index!r} is not session-aware (its model ignores the previous "
            f"query); this check runs against an '{SESSION_AWARE_MODEL}*' index"
        )
    prev, nxt = frequent_session_pair(sample_log)
    prefix = nxt[:2]
    demo.type(prefix)
    before = demo.wait_options_for(prefix)
    demo.submit_query(prev)
    demo.wait_previous_query(prev)
    demo.clear()
    demo.type(prefix)
    after = demo.wait_options_for(prefix)
    assert after != before, f"after {prev!r}, {prefix!r} completed the same: {after}"
    if nxt in before:
        assert nxt in after and after.index(nxt) <= before.index(nxt), (nxt, before, after)
