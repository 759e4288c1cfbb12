"""Recent searches in the demo: focusing the empty box lists the session's queries (a new
session's, the most popular ones), and the "×" control forgets one in the server's store, for
good."""

from __future__ import annotations

from typing import Any

import pytest

from .demo import OPTIONS, DemoPage

pytestmark = pytest.mark.browser


def wait_recent(demo: DemoPage) -> list[str]:
    """Focus the empty box and wait for the answer to the empty prefix."""
    demo.clear()  # this also asks for "" (while focused): wait for that answer first
    demo.page.wait_for_function(
        "() => window.__qacEvents.filter((e) => e.type === 'results').at(-1)?.detail.prefix === ''"
    )
    demo.input.blur()
    before = len(demo.events("results"))
    demo.input.focus()
    demo.wait_event("results", before + 1)
    demo.page.wait_for_function(
        "() => window.__qacEvents.filter((e) => e.type === 'results').at(-1).detail.prefix === ''"
    )
    return demo.option_texts()


def test_focus_on_the_empty_box_shows_recent_searches_and_x_forgets_one(
    page: Any, demo_server: Any
) -> None:
    demo = DemoPage(page, demo_server.url).open()
    popular = wait_recent(demo)
    sources = page.eval_on_selector_all(OPTIONS, "els => els.map(e => e.dataset.source)")
    assert popular and set(sources) == {"index"}, "a new session is shown popular queries"
    assert page.locator(f"{OPTIONS} .qac-remove").count() == 0, "nothing of its own to remove"
    for query in ("cheap flights", "weather", "google earth"):
        demo.submit_query(query)
    assert wait_recent(demo) == ["google earth", "weather", "cheap flights"]

    acks = len(demo.events("ack"))
    page.locator(f"{OPTIONS} .qac-remove").nth(1).click()  # "weather"
    demo.wait_event("ack", acks + 1)
    assert demo.events("ack")[-1].get("stored") is True
    assert demo.option_texts() == ["google earth", "cheap flights"]

    page.reload()  # the store forgot it, not just the page
    demo.wait_state("open")
    assert wait_recent(demo) == ["google earth", "cheap flights"]
