"""A page object for the demo page and the widget, so tests read as what a person does."""

from __future__ import annotations

from typing import Any

#: Default wait for the page to react to a keystroke or a frame (ms); generous for slow CI.
WAIT_MS = 5000
LISTBOX = ".qac-listbox"
OPTIONS = ".qac-listbox:not([hidden]) [role=option]"


class DemoPage:
    """The demo page at `/` of a live server, driven through the keyboard and pointer."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.input = page.locator("#q")

    def open(self) -> DemoPage:
        self.page.goto(self.base_url + "/")
        self.wait_state("open")
        self.page.wait_for_function("() => window.qacDemo && window.qacDemo.session")
        return self

    # -- reading the page ------------------------------------------------------------------
    def state(self) -> str:
        return str(self.input.get_attribute("data-qac-state"))

    def wait_state(self, state: str, timeout_ms: int = WAIT_MS) -> None:
        self.page.wait_for_selector(
            f"#q[data-qac-state={state}]", state="attached", timeout=timeout_ms
        )

    def option_texts(self) -> list[str]:
        return [
            str(t)
            for t in self.page.eval_on_selector_all(OPTIONS, "els => els.map(e => e.dataset.value)")
        ]

    def wait_options_for(self, typed: str) -> list[str]:
        """Wait until the popup shows suggestions answered for exactly `typed`; return them."""
        self.page.wait_for_function(
            """(typed) => {
                const ev = window.__qacEvents.filter((e) => e.type === "results").at(-1);
                const norm = typed.toLowerCase().replace(/ +/g, " ").trimStart();
                const input = document.querySelector("#q");
                return ev && ev.detail.prefix === norm && input.value === typed
                    && !document.querySelector(".qac-listbox").hidden;
            }""",
            arg=typed,
        )
        return self.option_texts()

    def live_text(self) -> str:
        return str(self.page.text_content(".qac-live") or "")

    def wait_live(self, text: str) -> None:
        self.page.wait_for_function(
            "(t) => document.querySelector('.qac-live').textContent === t", arg=text
        )

    def popup_open(self) -> bool:
        return bool(self.page.evaluate("() => !document.querySelector('.qac-listbox').hidden"))

    def active_option(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.page.evaluate(
            """() => {
                const input = document.querySelector("#q");
                const id = input.getAttribute("aria-activedescendant");
                if (!id) return null;
                const el = document.getElementById(id);
                if (!el) return { id, text: null, selected: null };
                return { id, text: el.dataset.value, selected: el.getAttribute("aria-selected") };
            }"""
        )
        return result

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [
            e["detail"] for e in self.page.evaluate("() => window.__qacEvents") if e["type"] == kind
        ]

    def wait_event(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        self.page.wait_for_function(
            "([k, n]) => window.__qacEvents.filter((e) => e.type === k).length >= n",
            arg=[kind, count],
        )
        return self.events(kind)

    def previous_query(self) -> str:
        return str(self.page.text_content("#previous-query") or "")

    def wait_previous_query(self, query: str) -> None:
        """Wait until the session panel shows `query` as acknowledged by the server."""
        self.page.wait_for_function(
            "(q) => document.querySelector('#previous-query q[data-stored]')?.textContent === q",
            arg=query,
        )

    def session_id(self) -> str:
        return str(self.page.evaluate("() => window.qacDemo.session"))

    def index_version(self) -> str:
        return str(self.page.evaluate("() => window.qacDemo.index"))

    # -- doing things ----------------------------------------------------------------------
    def type(self, text: str) -> None:
        self.input.focus()
        self.page.keyboard.type(text)

    def clear(self) -> None:
        self.input.focus()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Backspace")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def submit_query(self, query: str) -> None:
        """Type `query` into an empty box and press Enter; wait until the server acked it."""
        acks = len(self.events("ack"))
        self.clear()
        self.type(query)
        self.press("Enter")
        self.wait_event("ack", acks + 1)
