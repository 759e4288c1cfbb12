"""Real browser, real server: headless Debian Chromium (Playwright) against `autocomplete serve`.

Fixtures:
* `browser`: one Chromium for the whole run; every test skips when /usr/bin/chromium is
  missing (Playwright's own browser downloads are never used).
* `page`: a fresh context (no cookies, no sessionStorage: a new visitor) per test; any
  uncaught page error fails the test at teardown. Every `autocomplete:*` event the widget
  dispatches is recorded in `window.__qacEvents` for assertions.
* `demo_server`: a LiveServer on the MPC index built from the bundled AOL sample, shared by
  the tests of a module that do not stop it.
* `shoot(page, name)`: saves test-artifacts/screenshots/<name>.png.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.live_server import LiveServer, built_sample_index  # noqa: F401 (a fixture)

from .demo import WAIT_MS

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

RECORD_EVENTS = """
window.__qacEvents = [];
for (const name of ["status", "results", "select", "submit", "ack", "forget", "error", "frame"]) {
  document.addEventListener("autocomplete:" + name, (e) => {
    window.__qacEvents.push({ type: name, detail: JSON.parse(JSON.stringify(e.detail ?? null)) });
  });
}
"""


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed after them. Playwright's sync API drives its
    own event loop from a greenlet; kept for the whole session, it broke the asyncio tests of
    files that ran after a browser file on the same pytest-xdist worker ("Cannot run the
    event loop while another loop is running", "Runner is closed"): 74 failures and 40 errors
    in one `make test`, none once the browser closes with its package."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def make_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """`make_page(**context_options)`: a page in a fresh browser context."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1000, "height": 720})
        options.setdefault("locale", "en-US")
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(WAIT_MS)
        ctx.add_init_script(RECORD_EVENTS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(make_page: Callable[..., Any]) -> Any:
    return make_page()


@pytest.fixture(scope="module")
def demo_server(built_sample_index: Path) -> Iterator[Any]:  # noqa: F811
    with LiveServer(built_sample_index) as server:
        yield server


@pytest.fixture
def shoot() -> Callable[[Any, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str, **options: Any) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), **options)
        return path

    return save
