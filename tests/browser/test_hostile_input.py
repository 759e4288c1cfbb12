"""Suggestions are data, never markup: a query log full of HTML is shown as text.

The server gets a tiny index built here from a few AOL-format rows whose queries are HTML
and script (a hostile-input fixture, not a quality claim); the real server then suggests them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer

from .demo import OPTIONS, DemoPage

pytestmark = pytest.mark.browser

HOSTILE = [
    "<img src=x onerror=window.__pwned=1>",
    "<img src=x onerror=window.__pwned=2> cheap flights",
    "<script>window.__pwned=3</script>",
    "<b>bold</b> &amp; <i>friends</i>",
]
HARMLESS = ["cheap flights", "weather"]


def write_log(path: Path, queries: list[str]) -> None:
    rows = ["AnonID\tQuery\tQueryTime\tItemRank\tClickURL"]
    for i, query in enumerate(queries):
        for j in range(3):  # three users each, so the counts differ from a single stray row
            rows.append(f"{900 + j}\t{query}\t2006-03-0{1 + j} 10:{i:02d}:00\t\t")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from indexer.build import build_index
    from indexer.params import BuildParams

    root = tmp_path_factory.mktemp("hostile")
    log = root / "hostile.tsv"
    write_log(log, HOSTILE + HARMLESS)
    build_index([log], root / "index", BuildParams(model="mpc", use_all=True))
    with LiveServer(root / "index") as server:
        yield server


def test_html_in_suggestions_is_shown_as_text_and_never_runs(
    page: Any, hostile_server: Any, shoot: Any
) -> None:
    demo = DemoPage(page, hostile_server.url).open()
    demo.type("<")
    texts = demo.wait_options_for("<")
    assert sorted(texts) == sorted(HOSTILE)
    shown = page.eval_on_selector_all(
        OPTIONS, "els => els.map(e => e.querySelector('.qac-text').textContent)"
    )
    assert sorted(shown) == sorted(HOSTILE), "each option reads exactly as the query"
    listbox_html = page.inner_html(".qac-listbox")
    assert (
        "<img" not in listbox_html and "<script" not in listbox_html and "<i>" not in listbox_html
    )
    assert (
        page.evaluate(
            "() => document.querySelectorAll('img, .qac-listbox script, .qac-listbox i').length"
        )
        == 0
    )
    assert page.evaluate("() => window.__pwned") is None, "no handler ran"
    shoot(page, "hostile-suggestions")

    # Picking one and submitting it shows it as text in the page's session panel too.
    demo.press("ArrowDown")
    picked = demo.input.input_value()
    demo.press("Enter")
    demo.wait_previous_query(picked)
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.evaluate("() => window.__pwned") is None


def test_hostile_text_matching_the_typed_prefix_is_still_highlighted_as_text(
    page: Any, hostile_server: Any
) -> None:
    demo = DemoPage(page, hostile_server.url).open()
    demo.type("<img")
    demo.wait_options_for("<img")
    typed = page.eval_on_selector_all(f"{OPTIONS} .qac-typed", "els => els.map(e => e.textContent)")
    assert typed == ["<img", "<img"]
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
