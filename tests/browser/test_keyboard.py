"""The whole demo works from the keyboard alone: no pointer event is ever sent."""

from __future__ import annotations

from typing import Any

import pytest

from .demo import DemoPage

pytestmark = pytest.mark.browser


def focused_id(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def test_keyboard_only_search_pick_and_new_session(page: Any, demo_server: Any, shoot: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    first_session = demo.session_id()
    page.keyboard.press("Tab")
    assert focused_id(page) == "q", "the search box is the first stop in tab order"
    page.keyboard.type("go")
    texts = demo.wait_options_for("go")
    n = len(texts)

    demo.press("ArrowUp")  # from the box, Up wraps to the last option
    assert demo.active_option()["text"] == texts[-1]  # type: ignore[index]
    demo.press("ArrowDown")  # past the last option: back in the box with the typed text
    assert demo.active_option() is None and demo.input.input_value() == "go"
    demo.press("ArrowDown", "End")
    assert demo.active_option()["text"] == texts[n - 1]  # type: ignore[index]
    demo.press("Home")
    assert demo.active_option()["text"] == texts[0]  # type: ignore[index]
    demo.press("ArrowDown")
    shoot(page, "keyboard-only")
    demo.press("Enter")
    demo.wait_previous_query(texts[1])

    # Tab with an active option accepts it into the box without searching, and moves on.
    demo.press("Control+A", "Backspace")
    page.keyboard.type("goo")
    goo = demo.wait_options_for("goo")
    demo.press("ArrowDown", "Tab")
    assert demo.input.input_value() == goo[0]
    assert focused_id(page) != "q"
    assert [s["query"] for s in demo.events("submit")] == [texts[1]], "Tab does not submit"

    # On to "New session" and press it, still by keyboard.
    for _ in range(5):
        if focused_id(page) == "new-session":
            break
        page.keyboard.press("Tab")
    assert focused_id(page) == "new-session"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(old) => window.qacDemo.session && window.qacDemo.session !== old", arg=first_session
    )
    assert "none yet" in demo.previous_query()
    assert focused_id(page) == "q", "after a new session the box has focus again"


def test_typing_is_never_blocked_by_the_network(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.input.focus()
    text = "google maps directions"
    page.keyboard.type(text)  # no delay between keys: one request per keystroke
    assert demo.input.input_value() == text
    # The reply shown is the one for the whole text, whatever order the others came in.
    page.wait_for_function(
        "(t) => window.__qacEvents.filter((e) => e.type === 'results').at(-1)?.detail.prefix === t",
        arg=text,
    )
    stats = page.evaluate("() => window.qacDemo.connection.stats")
    assert stats["framesOut"] >= len(text) - 1
