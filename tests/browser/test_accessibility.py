"""WAI-ARIA 1.2 combobox + listbox checks, written out as an in-page audit (axe-style).

`AUDIT` (combobox_audit.js) returns a list of problems (empty = fine) for every
`[role=combobox]` in the page; it runs in each state the widget goes through: closed, open,
an option active, closed again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .demo import DemoPage

pytestmark = pytest.mark.browser

AUDIT = (Path(__file__).parent / "combobox_audit.js").read_text(encoding="utf-8")


def audit(page: Any) -> list[str]:
    return list(page.evaluate(AUDIT))


def test_combobox_roles_and_attributes_hold_in_every_state(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    assert audit(page) == [], "closed, before typing"
    demo.type("go")
    demo.wait_options_for("go")
    assert audit(page) == [], "open"
    assert page.get_attribute("#q", "aria-expanded") == "true"
    demo.press("ArrowDown", "ArrowDown")
    assert audit(page) == [], "open, an option active"
    assert page.get_attribute("#q", "aria-activedescendant") is not None
    demo.press("Escape")
    assert audit(page) == [], "closed with Escape"
    assert page.get_attribute("#q", "aria-activedescendant") is None


def test_suggestion_count_is_announced_politely(page: Any, demo_server: Any) -> None:
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    texts = demo.wait_options_for("go")
    demo.wait_live(f"{len(texts)} suggestions")
    live = page.locator(".qac-live")
    assert (
        live.get_attribute("aria-live") == "polite" and live.get_attribute("aria-atomic") == "true"
    )
    # Visually hidden but not display:none, so screen readers still read it.
    assert page.eval_on_selector(".qac-live", "el => getComputedStyle(el).display") != "none"
    assert (live.bounding_box() or {"width": 9})["width"] <= 1


def test_the_audit_catches_broken_markup(page: Any, demo_server: Any) -> None:
    """The checks above would fail on a broken combobox (they are not vacuous)."""
    demo = DemoPage(page, demo_server.url).open()
    demo.type("go")
    demo.wait_options_for("go")
    page.evaluate(
        """() => {
            const input = document.querySelector("#q");
            input.setAttribute("aria-activedescendant", "nope");
            input.setAttribute("aria-controls", "q");
        }"""
    )
    problems = audit(page)
    assert any("controls a combobox" in p for p in problems), problems
    assert any("aria-activedescendant=nope" in p for p in problems), problems
