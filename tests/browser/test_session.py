"""The session panel shows what the server keeps as context; new sessions start from nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer

from .demo import DemoPage

pytestmark = pytest.mark.browser


# A real pair from the sample's training sessions: "silverdaddies" is followed by "daddyhunt"
# 17 times; tests/autocomplete/test_blend.py checks the ranker lifts it to the top for "d".
SESSION_PAIR = ("silverdaddies", "daddyhunt", "d")


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
    # The new id is what the server announces in hello for the new socket (that hello may
    # arrive after the page shows the id it asked for).
    page.wait_for_function(
        """(s) => window.__qacEvents.some(
            (e) => e.type === "status" && e.detail.hello && e.detail.hello.session === s)""",
        arg=new,
    )
    hellos = [e for e in demo.events("status") if e.get("hello")]
    assert hellos[-1]["hello"]["session"] == new
    # The session survives a reload of the page (sessionStorage), until "New session".
    page.reload()
    demo.wait_state("open")
    page.wait_for_function("() => window.qacDemo.session")
    assert demo.session_id() == new


def test_suggestions_change_after_a_submit_on_the_session_aware_index(
    page: Any, blend_index_dir: Path
) -> None:
    # the blended ranker (what `make demo` serves) uses the previous query; pure MPC would not
    with LiveServer(blend_index_dir) as server:
        _check_suggestions_follow_the_session(DemoPage(page, server.url).open())


def _check_suggestions_follow_the_session(demo: DemoPage) -> None:
    prev, nxt, prefix = SESSION_PAIR
    demo.type(prefix)
    before = demo.wait_options_for(prefix)
    demo.submit_query(prev)
    demo.wait_previous_query(prev)
    demo.clear()
    demo.type(prefix)
    after = demo.wait_options_for(prefix)
    assert after != before, f"after {prev!r}, {prefix!r} completed the same: {after}"
    assert after[0] == nxt, (nxt, before, after)
    assert nxt not in before or before.index(nxt) > 0
