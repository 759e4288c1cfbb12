"""Embedding from another site: a page on its own origin loads the bundled widget from the
completion server with one tag and gets completions; a page of an origin the server does not
allow can neither load it nor open the socket. Also: right-to-left pages, the render hook,
fresh items' badge, popular queries on focus, all against a real server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autocomplete.client import ConnectFailed, QacClient
from tests.credentials import user_token
from tests.live_server import LiveServer, built_sample_index  # noqa: F401 (a fixture)

from .conftest import ROOT
from .demo import OPTIONS, WAIT_MS
from .host_site import HostSite

pytestmark = pytest.mark.browser

MANIFEST = json.loads((ROOT / "web_demo" / "dist" / "manifest.json").read_text())
FRESH_QUERY = "zephyr quokka festival"

PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8"><title>A shop on another site</title>
<style>
  body {{ margin: 0; font: 16px/1.4 system-ui, sans-serif; background: #fbfaf7; }}
  header {{ padding: 1rem 2rem; background: #2b3a55; color: white; }}
  form {{ display: flex; gap: .5rem; padding: 1.5rem 2rem; }}
  #q {{ width: {width}; font: inherit; padding: .45rem .6rem; border: 1px solid #889;
        border-radius: 6px; }}
</style></head>
<body>
  <header>{title}</header>
  <form action="/search">
    <label for="q">{label}</label>
    <input id="q" name="q" {attrs}>
    <button>{button}</button>
  </form>
  {scripts}
</body></html>
"""


def host_page(
    scripts: str, *, attrs: str = "data-autocomplete", rtl: bool = False, **kw: str
) -> str:
    fields = {
        "lang": "ar" if rtl else "en",
        "dir": "rtl" if rtl else "ltr",
        "title": "متجر" if rtl else "The Shop",
        "label": "بحث" if rtl else "Search the shop",
        "button": "اذهب" if rtl else "Go",
        "width": "300px",
        "attrs": attrs,
        "scripts": scripts,
        **kw,
    }
    return PAGE.format(**fields)


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[HostSite, HostSite]]:
    """(a site the server allows, a site it does not)."""
    with HostSite() as allowed, HostSite() as other:
        yield allowed, other


@pytest.fixture(scope="module")
def qac(built_sample_index: Path, sites: tuple[HostSite, HostSite]) -> Iterator[LiveServer]:  # noqa: F811
    allowed, _ = sites
    env = {"QAC_ALLOWED_ORIGINS": allowed.origin, "QAC_FRESH_REFRESH_S": "0.2"}
    with LiveServer(built_sample_index, env=env) as server:
        yield server


def bundle_url(qac: LiveServer, flavour: str = "module") -> str:
    return f"{qac.url}/static/dist/{MANIFEST[flavour]}"


def module_tag(qac: LiveServer) -> str:
    return f'<script type="module" src="{bundle_url(qac)}"></script>'


def wait_open(page: Any) -> None:
    page.wait_for_selector("#q[data-qac-state=open]", state="attached")


def wait_options(page: Any, typed: str) -> list[dict[str, str]]:
    page.wait_for_function(
        """(typed) => {
            const ev = window.__qacEvents.filter((e) => e.type === "results").at(-1);
            return ev && ev.detail.prefix === typed
                && !document.querySelector(".qac-listbox").hidden;
        }""",
        arg=typed,
    )
    options: list[dict[str, str]] = page.eval_on_selector_all(
        OPTIONS, "els => els.map(e => ({text: e.dataset.value, source: e.dataset.source}))"
    )
    return options


def run_async(coro: Any) -> Any:
    """Run a coroutine to completion outside Playwright's event loop (its own thread)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


def test_a_page_on_another_origin_embeds_the_bundle_with_one_tag(
    page: Any, qac: LiveServer, sites: tuple[HostSite, HostSite], shoot: Any
) -> None:
    allowed, _ = sites
    allowed.pages["/shop"] = host_page(module_tag(qac))
    responses: dict[str, Any] = {}
    page.on("response", lambda r: responses.setdefault(r.url, r))
    page.goto(allowed.origin + "/shop")
    wait_open(page)
    assert page.get_attribute("#q", "role") == "combobox"

    script = responses[bundle_url(qac)]
    assert script.status == 200
    assert script.header_value("access-control-allow-origin") == allowed.origin
    assert script.header_value("cache-control") == "public, max-age=31536000, immutable"
    css_url = f"{qac.url}/static/dist/{MANIFEST['css']}"
    page.wait_for_function(
        "(href) => [...document.styleSheets].some((s) => s.href === href)", arg=css_url
    )

    page.focus("#q")
    page.keyboard.type("go")
    options = wait_options(page, "go")
    assert options and all(o["text"].startswith("go") for o in options)
    radius = page.eval_on_selector(".qac-listbox", "el => getComputedStyle(el).borderRadius")
    assert radius == "8px", "the bundle's stylesheet applies"
    shoot(page, "embed-cross-origin-module")


def test_a_new_visitor_sees_popular_queries_on_focus(
    page: Any, qac: LiveServer, sites: tuple[HostSite, HostSite], shoot: Any
) -> None:
    allowed, _ = sites
    attrs = 'data-autocomplete data-autocomplete-min-chars="0" data-autocomplete-k="6"'
    allowed.pages["/focus"] = host_page(module_tag(qac), attrs=attrs)
    page.goto(allowed.origin + "/focus")
    wait_open(page)
    page.focus("#q")
    options = wait_options(page, "")
    popular = json.loads(qac.get("/v1/complete?prefix=&k=6")[1])["items"]
    assert [o["text"] for o in options] == [i["text"] for i in popular]
    assert {o["source"] for o in options} == {"index"}
    assert page.locator(f"{OPTIONS} .qac-remove").count() == 0, "not the user's own history"
    shoot(page, "embed-popular-on-focus")


def test_the_classic_script_defines_a_global_for_pages_without_modules(
    page: Any, qac: LiveServer, sites: tuple[HostSite, HostSite], shoot: Any
) -> None:
    allowed, _ = sites
    scripts = (
        f'<script src="{bundle_url(qac, "global")}"></script>\n'
        "<script>window.ac = QacAutocomplete.attachAutocomplete("
        "document.querySelector('#q'), { k: 4 });</script>"
    )
    allowed.pages["/classic"] = host_page(scripts, attrs="")
    page.goto(allowed.origin + "/classic")
    wait_open(page)
    assert page.evaluate("() => QacAutocomplete.VERSION") == MANIFEST["version"]
    page.focus("#q")
    page.keyboard.type("new")
    options = wait_options(page, "new")
    assert 0 < len(options) <= 4 and all(o["text"].startswith("new") for o in options)
    assert page.evaluate("() => window.ac.limits.max_k") == 50
    shoot(page, "embed-cross-origin-classic")


def test_an_origin_the_server_does_not_allow_cannot_load_the_widget_or_open_the_socket(
    page: Any, qac: LiveServer, sites: tuple[HostSite, HostSite]
) -> None:
    allowed, other = sites
    loader = module_tag(qac).replace("></script>", ' onerror="window.__blocked = true"></script>')
    other.pages["/shop"] = host_page(loader)
    page.goto(other.origin + "/shop")
    page.wait_for_function("() => window.__blocked === true")
    assert page.get_attribute("#q", "role") is None, "the widget never ran"

    outcome = page.evaluate(
        """(url) => new Promise((resolve) => {
            const ws = new WebSocket(url);
            ws.onopen = () => resolve("open");
            ws.onclose = (e) => resolve("closed " + e.code);
        })""",
        qac.ws_url,
    )
    assert outcome == "closed 1006", "the handshake was refused"
    with pytest.raises(ConnectFailed, match="HTTP 403"):
        run_async(QacClient.connect(qac.ws_url, headers={"Origin": other.origin}))

    read = """(url) => fetch(url).then((r) => r.json()).then((b) => b.type, (e) => e.name)"""
    assert page.evaluate(read, f"{qac.url}/v1/complete?prefix=go") == "TypeError"
    allowed.pages["/empty"] = host_page("", attrs="")
    page.goto(allowed.origin + "/empty")
    assert page.evaluate(read, f"{qac.url}/v1/complete?prefix=go") == "completions"


def test_in_a_right_to_left_page_the_list_lines_up_with_the_input(
    page: Any, qac: LiveServer, sites: tuple[HostSite, HostSite], shoot: Any
) -> None:
    allowed, _ = sites
    allowed.pages["/rtl"] = host_page(module_tag(qac), rtl=True)
    page.goto(allowed.origin + "/rtl")
    wait_open(page)
    page.focus("#q")
    page.keyboard.type("go")
    wait_options(page, "go")
    box = page.evaluate(
        """() => {
            const r = (s) => document.querySelector(s).getBoundingClientRect();
            const i = r("#q"), l = r(".qac-listbox");
            return {inLeft: i.left, inRight: i.right, left: l.left, right: l.right,
                    viewport: document.documentElement.clientWidth};
        }"""
    )
    assert abs(box["right"] - box["inRight"]) <= 1, box
    assert box["left"] <= box["inLeft"] and box["left"] >= 0, "wider, towards the text's end"
    assert box["right"] <= box["viewport"]
    shoot(page, "embed-rtl")


def test_a_render_hook_shapes_the_items_and_fresh_ones_carry_a_badge(
    page: Any, qac: LiveServer, sites: tuple[HostSite, HostSite], shoot: Any
) -> None:
    async def three_people_search() -> None:
        for user in ("ann", "ben", "cat"):
            async with await QacClient.connect(qac.ws_url, token=user_token(user)) as client:
                assert await client.submit(FRESH_QUERY)

    run_async(three_people_search())
    allowed, _ = sites
    allowed.pages["/shop"] = host_page(module_tag(qac))
    page.goto(allowed.origin + "/shop")
    wait_open(page)
    page.focus("#q")
    page.keyboard.type("zephyr q")
    badge = page.locator(f"{OPTIONS}.qac-option--fresh .qac-badge")
    badge.wait_for(timeout=WAIT_MS * 2)  # fresh counts are re-read every 0.2 s here
    assert badge.text_content() == "trending" and badge.get_attribute("aria-hidden") == "true"
    shoot(page, "embed-fresh-badge")

    hook = f"""<script type="module">
      import {{ attachAutocomplete }} from "{bundle_url(qac)}";
      attachAutocomplete(document.querySelector("#q"), {{
        k: 6,
        renderItem(item, parts, context) {{
          if (item.source === "fresh") return item.text + " (new!)";  // text, never markup
          const span = document.createElement("span");
          span.className = "host-item";
          for (const part of parts) {{
            const el = document.createElement(part.kind === "completion" ? "u" : "span");
            el.textContent = part.text;
            span.append(el);
          }}
          if (context.index === 0) span.append(" ★");
          return span;
        }},
      }});
    </script>"""
    allowed.pages["/hook"] = host_page(hook, attrs="")
    page.goto(allowed.origin + "/hook")
    wait_open(page)
    page.focus("#q")
    page.keyboard.type("zephyr q")
    page.wait_for_selector(f"{OPTIONS}.qac-option--fresh", timeout=WAIT_MS * 2)
    fresh = page.locator(f"{OPTIONS}.qac-option--fresh")
    assert fresh.locator(".qac-text").text_content() == f"{FRESH_QUERY} (new!)"
    assert fresh.locator(".qac-badge").text_content() == "trending"
    named = page.get_by_role(
        "option", name=re.compile(re.escape(FRESH_QUERY) + r" \(new!\)\s*, trending$")
    )
    assert named.count() == 1, "the badge is read once, as a note"

    page.fill("#q", "")
    page.keyboard.type("go")
    wait_options(page, "go")
    first = page.locator(OPTIONS).first
    assert first.locator(".qac-text > .host-item > span").first.text_content() == "go"
    assert first.locator(".qac-text u").text_content() == first.get_attribute("data-value")[2:]
    assert (first.text_content() or "").endswith(" ★")
    assert page.locator(f"{OPTIONS} .host-item").count() == page.locator(OPTIONS).count()
    assert first.get_attribute("role") == "option" and first.get_attribute("id")
    shoot(page, "embed-render-hook")
