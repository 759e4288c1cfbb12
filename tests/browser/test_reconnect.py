"""The server goes away and comes back: the box keeps working, then completes again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer

from .demo import DemoPage

pytestmark = pytest.mark.browser

#: Reconnect backoff tops out at 8 s (plus a restart); allow for a slow machine.
RECONNECT_MS = 20_000


@pytest.fixture
def own_server(built_sample_index: Path) -> Iterator[Any]:
    """A server this test may kill and restart."""

    with LiveServer(built_sample_index) as server:
        yield server


def test_killed_server_shows_offline_then_reconnects_and_completes_again(
    page: Any, own_server: Any, shoot: Any
) -> None:
    demo = DemoPage(page, own_server.url).open()
    session = demo.session_id()
    demo.type("go")
    assert "google" in demo.wait_options_for("go")

    own_server.kill()
    demo.wait_state("offline")
    notice = page.locator(".qac-notice")
    notice.wait_for(state="visible")
    assert "offline" in (notice.text_content() or "").lower()
    assert not demo.popup_open(), "no stale suggestions while offline"
    assert page.text_content("#state") == "offline, retrying…"

    # Offline, the box is a plain input: typing works and Enter submits the form.
    demo.type("ogle maps")
    assert demo.input.input_value() == "google maps"
    demo.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#searched').textContent.includes('google maps')"
    )
    assert demo.events("submit")[-1]["queued"] is True
    assert "waits to be sent" in demo.previous_query()
    shoot(page, "offline")

    own_server.start()
    demo.wait_state("open", timeout_ms=RECONNECT_MS)
    assert notice.is_hidden()
    assert demo.session_id() == session, "the widget resumes its session after reconnecting"
    # The submit made while offline reaches the server once it is back.
    demo.wait_previous_query("google maps")
    assert "waits" not in demo.previous_query()
    shoot(page, "reconnected-panel")
    demo.clear()
    demo.type("goo")
    texts = demo.wait_options_for("goo")
    assert texts and all(t.startswith("goo") for t in texts)
    shoot(page, "reconnected")
