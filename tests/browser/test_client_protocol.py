"""The widget's side of the wire protocol, against a scripted socket in the page.

The real-server tests cannot provoke some frames on demand: a reply overtaken by a newer
one, `rate_limited`, history items, highlight offsets, frame types from a newer server. Here
the page's `WebSocket` is replaced by a fake the test scripts frame by frame; the widget's
files are served from web_demo/ as they are, embedded in a host page the way a site owner
would (one script tag, one input with `data-autocomplete`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

from .demo import OPTIONS

pytestmark = pytest.mark.browser

ORIGIN = "http://qac.test"
WEB_DEMO = ROOT / "web_demo"
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A shop</title></head>
<body>
  <form action="/shop/search" method="get">
    <label for="q">Search the shop</label>
    <input id="q" name="q" data-autocomplete data-autocomplete-k="{k}">
    <button>Go</button>
  </form>
  <script type="module" src="/static/autocomplete.js"></script>
</body></html>
"""

FAKE_SOCKET = """
window.__ws = { sockets: [], refuse: false };
class FakeWebSocket {
  constructor(url) {
    this.url = url; this.readyState = 0; this.sent = [];
    window.__ws.sockets.push(this);
    setTimeout(() => {
      if (window.__ws.refuse) { this.readyState = 3; this.onclose?.({ code: 1006 }); }
      else { this.readyState = 1; this.onopen?.({}); }
    }, 0);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code: code ?? 1005 }), 0);
  }
  receive(frame) {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }
  drop() { this.readyState = 3; this.onclose?.({ code: 1006 }); }
}
window.WebSocket = FakeWebSocket;
"""


class FakeServer:
    """Drives the fake socket in `page`: what the widget sent, and frames to send it."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def url(self) -> str:
        return str(self.page.evaluate("() => window.__ws.sockets.at(-1).url"))

    def sent(self, kind: str | None = None) -> list[dict[str, Any]]:
        frames = self.page.evaluate("() => window.__ws.sockets.at(-1).sent")
        return [f for f in frames if kind is None or f["type"] == kind]

    def send(self, frame: dict[str, Any] | str) -> None:
        self.page.evaluate("(f) => window.__ws.sockets.at(-1).receive(f)", frame)

    def wait_sent(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        self.page.wait_for_function(
            """([k, n]) => {
                const sent = window.__ws.sockets.at(-1)?.sent || [];
                return sent.filter((f) => f.type === k).length >= n;
            }""",
            arg=[kind, count],
        )
        return self.sent(kind)

    def hello(self, session: str = "s1", index: str = "mpc-test", **extra: Any) -> None:
        self.page.wait_for_function("() => window.__ws.sockets.at(-1)?.readyState === 1")
        self.send({"type": "hello", "session": session, "index": index, **extra})
        self.page.wait_for_selector("#q[data-qac-state=open]", state="attached")

    def complete(self, request: dict[str, Any], texts: list[str], **item_fields: Any) -> None:
        items = [
            {"text": t, "score": 1.0 - i / 100, "source": "index", **item_fields}
            for i, t in enumerate(texts)
        ]
        self.send(
            {
                "type": "completions",
                "id": request["id"],
                "prefix": request["prefix"],
                "items": items,
                "took_ms": 0.1,
            }
        )


def serve_widget(route: Any) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    if path.startswith("/static/"):
        file = WEB_DEMO / Path(path.removeprefix("/static/")).name
        ctype = "text/javascript" if file.suffix == ".js" else "text/css"
        if file.is_file():
            return route.fulfill(
                status=200, body=file.read_text(encoding="utf-8"), content_type=ctype
            )
        return route.fulfill(status=404, body="")
    if path.startswith("/shop/search"):
        return route.fulfill(
            status=200,
            body="<!doctype html><title>results</title><h1>Results</h1>",
            content_type="text/html",
        )
    k = route.request.url.partition("k=")[2] or "10"
    return route.fulfill(status=200, body=HOST_PAGE.replace("{k}", k), content_type="text/html")


@pytest.fixture
def shop(page: Any) -> tuple[Any, FakeServer]:
    page.add_init_script(FAKE_SOCKET)
    page.route(f"{ORIGIN}/**", serve_widget)
    return page, FakeServer(page)


def open_shop(page: Any, server: FakeServer, k: int = 10, hello: bool = True) -> None:
    page.goto(f"{ORIGIN}/shop/?k={k}")
    page.wait_for_function("() => window.__ws.sockets.length > 0")
    if hello:
        server.hello()


def shown(page: Any) -> list[str]:
    return [
        str(t) for t in page.eval_on_selector_all(OPTIONS, "els => els.map(e => e.dataset.value)")
    ]


def test_auto_attach_finds_the_server_that_served_the_script(shop: Any) -> None:
    page, server = shop
    open_shop(page, server, hello=False)
    assert server.url() == "ws://qac.test/ws"
    assert page.get_attribute("#q", "role") == "combobox"
    server.hello(session="abc-123", index="mpc-x", motd="a field from a newer server")
    # A lost connection comes back under the same session id.
    page.evaluate("() => window.__ws.sockets.at(-1).drop()")
    page.wait_for_function(
        "() => window.__ws.sockets.length === 2 && window.__ws.sockets[1].readyState === 1"
    )
    assert server.url() == "ws://qac.test/ws?session=abc-123"


def test_only_the_newest_reply_is_shown(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    page.focus("#q")
    page.keyboard.type("go")
    first, second = server.wait_sent("complete", 2)
    assert (first["prefix"], second["prefix"], first["k"]) == ("g", "go", 10)
    assert second["id"] > first["id"]
    server.complete(second, ["google", "goats"])
    server.complete(first, ["games", "gmail"])  # late: overtaken by the keystroke after it
    page.wait_for_selector(OPTIONS)
    assert shown(page) == ["google", "goats"]
    assert page.evaluate("() => document.querySelector('#q').value") == "go"
    assert page.evaluate("() => window.__qacEvents.filter((e) => e.type === 'results').length") == 1


def test_rate_limited_and_other_errors_change_nothing_visible(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    page.focus("#q")
    page.keyboard.type("g")
    (req,) = server.wait_sent("complete")
    server.complete(req, ["google", "gmail"])
    page.keyboard.type("o")
    req = server.wait_sent("complete", 2)[-1]
    server.send({"type": "error", "id": req["id"], "code": "rate_limited", "message": "slow down"})
    server.send({"type": "error", "id": None, "code": "unavailable", "message": "index reloading"})
    assert shown(page) == ["google"], "the suggestions that still fit stay up"
    assert page.is_hidden(".qac-notice")
    assert page.get_attribute("#q", "data-qac-state") == "open"
    errors = page.evaluate(
        "() => window.__qacEvents.filter((e) => e.type === 'error').map((e) => e.detail.code)"
    )
    assert errors == ["rate_limited", "unavailable"]
    page.keyboard.type("o")
    req = server.wait_sent("complete", 3)[-1]
    server.complete(req, ["google", "goofy"])
    page.wait_for_function("() => document.querySelectorAll('.qac-option').length === 2")
    assert shown(page) == ["google", "goofy"]


def test_lists_are_cut_at_k(shop: Any) -> None:
    page, server = shop
    open_shop(page, server, k=3)
    page.focus("#q")
    page.keyboard.type("a")
    (req,) = server.wait_sent("complete")
    assert req["k"] == 3
    server.complete(req, [f"a{i}" for i in range(8)])
    page.wait_for_selector(OPTIONS)
    assert shown(page) == ["a0", "a1", "a2"]


def test_history_items_have_a_remove_control_that_sends_forget(shop: Any, shoot: Any) -> None:
    page, server = shop
    open_shop(page, server)
    page.focus("#q")
    page.keyboard.type("ne")
    req = server.wait_sent("complete", 2)[-1]
    items = [
        {
            "text": "new york times",
            "score": 0.9,
            "source": "history",
            "seen": "2006-03-01",
            "match": [0, 2],
        },
        {"text": "netflix", "score": 0.8, "source": "index", "badge": {"anything": True}},
        {"text": "news of the day", "score": 0.7, "source": "history"},
        {"text": "nevada", "score": 0.6, "source": "brand-new-source"},
    ]
    server.send(
        {"type": "completions", "id": req["id"], "prefix": "ne", "items": items, "took_ms": 0.2}
    )
    page.wait_for_selector(OPTIONS)
    assert shown(page) == ["new york times", "netflix", "news of the day", "nevada"]
    sources = page.eval_on_selector_all(OPTIONS, "els => els.map(e => e.dataset.source)")
    assert sources == ["history", "index", "history", "index"], (
        "unknown sources render as index items"
    )
    removable = page.eval_on_selector_all(
        OPTIONS, "els => els.map(e => !!e.querySelector('.qac-remove'))"
    )
    assert removable == [True, False, True, False]
    shoot(page, "history-items")

    page.locator(f"{OPTIONS} .qac-remove").first.click()
    assert server.wait_sent("forget") == [
        {"type": "forget", "id": server.sent("forget")[0]["id"], "query": "new york times"}
    ]
    assert shown(page) == ["netflix", "news of the day", "nevada"]
    assert page.evaluate("() => document.activeElement.id") == "q"
    assert server.sent("submit") == [], "removing is not searching"

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # "news of the day", a history item
    page.keyboard.press("Shift+Delete")
    assert server.wait_sent("forget", 2)[-1]["query"] == "news of the day"
    assert shown(page) == ["netflix", "nevada"]
    assert page.evaluate("() => document.querySelector('#q').value") == "ne"
    # A server that does not know "forget" yet answers bad_request: nothing breaks.
    server.send(
        {
            "type": "error",
            "id": server.sent("forget")[-1]["id"],
            "code": "bad_request",
            "message": 'field \'type\' must be "complete" or "submit"',
        }
    )
    assert shown(page) == ["netflix", "nevada"]


def test_match_offsets_from_the_server_choose_what_is_plain(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    page.focus("#q")
    page.keyboard.type("new yo")
    req = server.wait_sent("complete", 6)[-1]
    server.send(
        {
            "type": "completions",
            "id": req["id"],
            "prefix": "new yo",
            "took_ms": 0.1,
            "items": [
                {"text": "the new york times", "score": 1, "source": "index", "match": [4, 10]},
                {
                    "text": "new york",
                    "score": 1,
                    "source": "index",
                    "match": [5, 999],
                },  # bad: ignored
                {
                    "text": "🍕 new york pizza",
                    "score": 1,
                    "source": "index",
                    "match": [2, 8],
                },  # code points
            ],
        }
    )
    page.wait_for_selector(OPTIONS)
    runs = page.eval_on_selector_all(
        OPTIONS,
        """els => els.map((e) => Array.from(
            e.querySelector(".qac-text").children, (c) => [c.className, c.textContent]
        ))""",
    )
    assert runs == [
        [["qac-completion", "the "], ["qac-typed", "new yo"], ["qac-completion", "rk times"]],
        [["qac-typed", "new yo"], ["qac-completion", "rk"]],
        [["qac-completion", "🍕 "], ["qac-typed", "new yo"], ["qac-completion", "rk pizza"]],
    ]


def test_frames_this_version_does_not_know_reach_the_host_page(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    server.send({"type": "announcement", "text": "new index"})
    server.send("not json at all")
    server.send(json.dumps([1, 2, 3]))
    frames = page.evaluate(
        "() => window.__qacEvents.filter((e) => e.type === 'frame').map((e) => e.detail.frame)"
    )
    assert frames == [{"type": "announcement", "text": "new index"}]
    assert page.get_attribute("#q", "data-qac-state") == "open"


def test_offline_from_the_start_the_form_still_submits(shop: Any) -> None:
    page, server = shop
    page.add_init_script("window.__ws.refuse = true")
    open_shop(page, server, hello=False)
    page.wait_for_selector("#q[data-qac-state=offline]", state="attached")
    assert page.is_visible(".qac-notice")
    page.focus("#q")
    page.keyboard.type("cheap flights")
    assert page.input_value("#q") == "cheap flights"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{ORIGIN}/shop/search?q=cheap+flights"


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    delays = page.evaluate(
        """async () => {
            const { Backoff } = await import("/static/connection.js");
            const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
            const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
            const seq = (b) => Array.from({ length: 6 }, () => b.next());
            const out = { low: seq(low), high: seq(high) };
            high.reset();
            out.afterReset = high.next();
            return out;
        }"""
    )
    assert delays["low"] == [50, 100, 200, 400, 500, 500]
    assert delays["high"] == [100, 200, 400, 800, 1000, 1000]
    assert delays["afterReset"] == 100


def test_bad_options_are_refused_with_a_clear_message(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    messages = page.evaluate(
        """async () => {
            const { attachAutocomplete } = await import("/static/autocomplete.js");
            const input = document.createElement("input");
            document.body.append(input);
            const out = [];
            for (const opts of [{ kk: 3 }, { k: 0 }, { k: 51 }, { url: "ftp://x/ws" }]) {
                try {
                    attachAutocomplete(input, opts);
                    out.push("accepted");
                } catch (e) {
                    out.push(e.message);
                }
            }
            return out;
        }"""
    )
    assert messages == [
        "attachAutocomplete: unknown option(s) kk",
        "attachAutocomplete: k must be 1..50, got 0",
        "attachAutocomplete: k must be 1..50, got 51",
        "autocomplete url must be ws:, wss:, http: or https:, got ftp:",
    ]


def test_destroy_gives_the_input_back_as_it_was(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    after = page.evaluate(
        """async () => {
            const { attachAutocomplete, getAutocomplete } = await import("/static/autocomplete.js");
            const input = document.createElement("input");
            input.setAttribute("autocomplete", "email");
            document.body.append(input);
            const before = input.outerHTML;
            const ac = attachAutocomplete(input, { notice: false, k: 5 });
            const again = attachAutocomplete(input) === ac;
            const attached = input.getAttribute("role");
            const socket = window.__ws.sockets.at(-1);
            ac.destroy();
            return { again, attached,
                     same: input.outerHTML === before,
                     siblings: input.nextElementSibling,
                     registered: getAutocomplete(input) !== undefined,
                     socketState: socket.readyState };
        }"""
    )
    assert after == {
        "again": True,
        "attached": "combobox",
        "same": True,
        "siblings": None,
        "registered": False,
        "socketState": 3,
    }


def test_a_host_can_veto_a_pick(shop: Any) -> None:
    page, server = shop
    open_shop(page, server)
    page.evaluate(
        """() => document.querySelector("#q").addEventListener("autocomplete:select", (e) => {
            if (e.detail.text === "gmail") e.preventDefault();
        })"""
    )
    page.focus("#q")
    page.keyboard.type("g")
    (req,) = server.wait_sent("complete")
    server.complete(req, ["google", "gmail"])
    page.wait_for_selector(OPTIONS)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # vetoed: no navigation, no submit, the typed text is back
    assert page.input_value("#q") == "g"
    assert server.sent("submit") == []
    assert page.url.startswith(f"{ORIGIN}/shop/")


def test_a_correction_says_did_you_mean_and_marks_what_it_changed(shop: Any, shoot: Any) -> None:
    page, server = shop
    open_shop(page, server)
    page.focus("#q")
    page.keyboard.type("amazom")
    req = server.wait_sent("complete", 6)[-1]
    items = [
        {
            "text": "amazon books",
            "score": 0.9,
            "source": "index",
            "corrected": True,
            "typed": 6,
            "match": [0, 6],
        },
        {"text": "amazomania", "score": 0.5, "source": "index", "match": [0, 6]},
        {
            "text": "amazin grace",
            "score": 0.4,
            "source": "generated",
            "corrected": True,
            "typed": 6,
            "match": [0, 6],
        },
        {
            "text": "amazon trends",
            "score": 0.3,
            "source": "fresh",
            "corrected": True,
            "typed": 6,
            "match": [0, 6],
        },
    ]
    server.send(
        {"type": "completions", "id": req["id"], "prefix": "amazom", "items": items, "took_ms": 1}
    )
    page.wait_for_selector(OPTIONS)
    runs = page.eval_on_selector_all(
        OPTIONS,
        """els => els.map((e) => Array.from(
            e.querySelector(".qac-text").children, (c) => [c.className, c.textContent]
        ))""",
    )
    assert runs == [
        [["qac-typed", "amazo"], ["qac-fix", "n"], ["qac-completion", " books"]],
        [["qac-typed", "amazom"], ["qac-completion", "ania"]],
        [["qac-typed", "amaz"], ["qac-fix", "in"], ["qac-completion", " grace"]],
        [["qac-typed", "amazo"], ["qac-fix", "n"], ["qac-completion", " trends"]],
    ]
    classes = page.eval_on_selector_all(OPTIONS, "els => els.map((e) => e.className)")
    assert classes == [
        "qac-option qac-option--index qac-option--corrected",
        "qac-option qac-option--index",
        "qac-option qac-option--generated qac-option--corrected",
        "qac-option qac-option--fresh qac-option--corrected",
    ]
    assert page.get_by_role("option", name="did you mean amazon books", exact=True).count() == 1
    assert page.get_by_role("option", name="amazomania", exact=True).count() == 1
    assert page.locator(f"{OPTIONS} .qac-fix").first.evaluate("e => e.tagName") == "MARK"
    shoot(page, "corrected-and-fresh-items")


def test_the_servers_hello_limits_shape_what_the_widget_asks(shop: Any) -> None:
    page, server = shop
    open_shop(page, server, hello=False)
    limits = {"max_k": 3, "max_prefix_chars": 4, "max_query_chars": 12}
    server.hello(protocol=1, limits=limits)
    assert page.evaluate("() => window.__qacEvents.at(-1).detail.limits") == limits
    page.evaluate("() => addEventListener('submit', (e) => e.preventDefault())")  # stay here
    page.focus("#q")
    page.keyboard.type("abcdef")
    sent = server.wait_sent("complete", 4)
    assert [(f["prefix"], f["k"]) for f in sent] == [("a", 3), ("ab", 3), ("abc", 3), ("abcd", 3)]
    page.keyboard.press("Enter")  # 6 characters: within max_query_chars
    assert server.wait_sent("submit")[-1]["query"] == "abcdef"
    page.fill("#q", "a query that is far too long")
    page.keyboard.press("Enter")
    assert len(server.sent("submit")) == 1, "a query the server would refuse is not sent"


def test_a_render_hook_returning_text_never_renders_markup(shop: Any) -> None:
    page, server = shop
    page.goto(f"{ORIGIN}/shop/?k=5")
    page.evaluate(
        """async () => {
            const { attachAutocomplete } = await import("/static/autocomplete.js");
            const input = document.createElement("input");
            input.id = "hooked";
            document.body.append(input);
            window.__hooked = attachAutocomplete(input, {
                renderItem: (item, parts, ctx) => ctx.index === 0 ? `<b>${item.text}</b>` : null,
            });
        }"""
    )
    page.wait_for_function("() => window.__hooked.state === 'open' || window.__ws.sockets.length")
    page.wait_for_function("() => window.__ws.sockets.at(-1)?.readyState === 1")
    server.send({"type": "hello", "session": "s9", "index": "i"})
    page.focus("#hooked")
    page.keyboard.type("<")
    req = server.wait_sent("complete")[-1]
    evil = '<img src=x onerror="window.__pwned = 1">'
    server.complete(req, [evil, "<i>plain</i>"])
    page.wait_for_selector("#hooked + .qac-listbox [role=option]")
    texts = page.eval_on_selector_all(
        "#hooked + .qac-listbox [role=option] .qac-text", "els => els.map((e) => e.textContent)"
    )
    assert texts == [f"<b>{evil}</b>", "<i>plain</i>"]
    assert page.locator("#hooked + .qac-listbox img, #hooked + .qac-listbox b b").count() == 0
    assert page.evaluate("() => window.__pwned") is None
