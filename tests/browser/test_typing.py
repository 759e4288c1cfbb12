"""Typing into the demo page completes keystroke by keystroke from a real server."""

from __future__ import annotations

from typing import Any

import pytest

from .demo import OPTIONS, DemoPage

pytestmark = pytest.mark.browser


def test_typing_a_prefix_shows_suggestions_that_extend_it(
    page: Any, demo_server: Any, shoot: Any
) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    texts = demo.wait_options_for("go")
    assert "google" in texts
    assert 1 <= len(texts) <= 10
    assert all(t.startswith("go") for t in texts), texts
    # The typed part is plain and the completion emphasised, per option.
    typed = page.eval_on_selector_all(
        OPTIONS, "els => els.map(e => e.querySelector('.qac-typed')?.textContent)"
    )
    rest = page.eval_on_selector_all(
        OPTIONS, "els => els.map(e => e.querySelector('.qac-completion')?.textContent ?? '')"
    )
    assert typed == ["go"] * len(texts)
    assert [t + r for t, r in zip(typed, rest, strict=True)] == texts
    assert page.get_attribute("#q", "aria-expanded") == "true"
    demo.wait_live(f"{len(texts)} suggestions")
    shoot(page, "typing-go")


def test_each_keystroke_refines_the_suggestions(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("g")
    assert all(t.startswith("g") for t in demo.wait_options_for("g"))
    demo.type("oo")
    texts = demo.wait_options_for("goo")
    assert texts and all(t.startswith("goo") for t in texts), texts
    # Replies to the older keystrokes never replaced the newest one.
    assert page.evaluate("() => window.qacDemo.connection.stats.framesIn") >= 2


def test_arrow_keys_and_enter_pick_a_suggestion_and_submit_it(
    page: Any, demo_server: Any, shoot: Any
) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    texts = demo.wait_options_for("go")
    assert len(texts) >= 2
    demo.press("ArrowDown", "ArrowDown")
    active = demo.active_option()
    assert active is not None
    assert (active["text"], active["selected"]) == (texts[1], "true")
    assert demo.input.input_value() == texts[1], "arrowing shows the option in the box"
    demo.press("ArrowUp")
    assert demo.active_option()["text"] == texts[0]  # type: ignore[index]
    shoot(page, "arrow-keys")
    demo.press("Enter")
    ack = demo.wait_event("ack")[-1]
    assert ack == {"id": ack["id"], "query": texts[0], "stored": True, "frame": ack["frame"]}
    assert demo.events("select")[-1]["via"] == "keyboard"
    assert demo.events("submit")[-1]["query"] == texts[0]
    demo.wait_previous_query(texts[0])
    assert not demo.popup_open()
    assert page.text_content("#searched q") == texts[0]
    assert demo.session_id() in page.text_content("#session-id")  # type: ignore[operator]
    shoot(page, "after-submit")


def test_escape_closes_the_popup_and_restores_what_was_typed(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    demo.wait_options_for("go")
    demo.press("ArrowDown")
    assert demo.input.input_value() != "go"
    demo.press("Escape")
    assert not demo.popup_open()
    assert demo.input.input_value() == "go"
    assert page.get_attribute("#q", "aria-expanded") == "false"
    assert page.get_attribute("#q", "aria-activedescendant") is None
    demo.press("ArrowDown")  # reopens on the first option
    assert demo.popup_open()
    assert demo.active_option() is not None


def test_enter_without_a_suggestion_submits_what_was_typed(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.submit_query("goats and boats")
    assert demo.events("submit")[-1] == {
        "query": "goats and boats",
        "id": demo.events("submit")[-1]["id"],
        "queued": False,
        "via": "enter",
    }
    demo.wait_previous_query("goats and boats")
    # Enter, the native form submit event and the widget report one search: one submit frame.
    assert len(demo.events("submit")) == 1


def test_a_prefix_nobody_typed_closes_the_popup_and_says_no_suggestions(
    page: Any, demo_server: Any
) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    demo.wait_options_for("go")
    demo.type("qqxzj")
    demo.wait_live("no suggestions")
    assert not demo.popup_open()
    assert demo.option_texts() == []
    assert page.get_attribute("#q", "aria-expanded") == "false"


def test_clicking_a_suggestion_picks_and_submits_it(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    texts = demo.wait_options_for("go")
    page.locator(OPTIONS).nth(2).click()
    demo.wait_previous_query(texts[2])
    assert demo.events("select")[-1]["via"] == "pointer"
    assert page.evaluate("() => document.activeElement.id") == "q", "focus stays in the box"
    assert page.text_content("#searched q") == texts[2]


def test_tapping_a_suggestion_on_a_touch_screen_picks_it(make_page: Any, demo_server: Any) -> None:
    page = make_page(viewport={"width": 390, "height": 700}, has_touch=True, is_mobile=True)
    demo = DemoPage(page, demo_server.url).open()
    demo.input.tap()
    demo.type("go")
    texts = demo.wait_options_for("go")
    page.locator(OPTIONS).nth(1).tap()
    demo.wait_previous_query(texts[1])
    assert demo.input.input_value() == texts[1]


def test_narrow_viewport_keeps_the_popup_inside_the_screen(
    make_page: Any, demo_server: Any, shoot: Any
) -> None:
    page = make_page(viewport={"width": 320, "height": 640})
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    demo.wait_options_for("go")
    demo.press("ArrowDown")
    box = page.locator(".qac-listbox").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, box
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 320, (
        "no sideways scrolling"
    )
    shoot(page, "narrow-320")
    shoot(page, "narrow-320-full", full_page=True)


def test_dark_mode_follows_the_system_preference(
    make_page: Any, demo_server: Any, shoot: Any
) -> None:
    page = make_page(color_scheme="dark")
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    demo.wait_options_for("go")
    bg = page.eval_on_selector(".qac-listbox", "el => getComputedStyle(el).backgroundColor")
    assert bg == "rgb(28, 33, 40)", bg
    shoot(page, "dark-mode")


#: Typing that the server folds: accents, full width, case, letters without a decomposition,
#: and marks of scripts whose marks are letters (kept).
FOLDED_TYPING = [
    "Café ",
    "city hotel Mátyás",
    "ｎｅｗ ｙｏｒｋ",
    "Søren Łódź STRASSE straße Æsop",
    "phở e\u0301clair Άθήνα ΣΟΦΟΣ",
    "がぎ नमस्ते йёж",
    "  İstanbul   ",
]


def test_the_widget_reads_typing_as_the_server_folds_it(page: Any, demo_server: Any) -> None:
    from indexer.text import normalize_prefix

    DemoPage(page, demo_server.url).open()
    widget = page.evaluate(
        "async (texts) => { const m = await import('/static/autocomplete.js');"
        " return texts.map((t) => m.normalizeTyped(t)); }",
        FOLDED_TYPING,
    )
    assert widget == [normalize_prefix(t) for t in FOLDED_TYPING]
