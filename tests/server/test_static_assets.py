"""`/static/` for other sites: CORS for the allowed origins, cache lifetimes by file name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from autocomplete.server.app import create_app
from autocomplete.server.assets import IMMUTABLE, SHORT, hashed_name, is_hashed
from autocomplete.server.config import ServerConfig
from session_store.base import StoreConfig
from session_store.memory import MemoryStore

pytestmark = pytest.mark.anyio

SITE = "https://shop.example"
HASHED = "widget-1.0.0.0123456789.min.js"


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "widget.js").write_text("export const ok = 1;\n" + "// padding\n" * 200)
    (tmp_path / HASHED).write_text("export const ok = 2;\n")
    return tmp_path


def client_for(sample_index, static_dir: Path, origins: tuple[str, ...]) -> httpx.AsyncClient:
    config = ServerConfig(index="unused", static_dir=str(static_dir), allowed_origins=origins)
    app = create_app(config, sample_index, MemoryStore(StoreConfig()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://qac.test")


@pytest.fixture
async def client(sample_index, static_dir) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sample_index, static_dir, (SITE,)) as c:
        yield c


async def test_an_allowed_origin_may_read_the_widget(client) -> None:
    response = await client.get("/static/widget.js", headers={"Origin": SITE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


async def test_the_servers_own_origin_may_always_read_it(client) -> None:
    response = await client.get("/static/widget.js", headers={"Origin": "http://qac.test"})
    assert response.headers["access-control-allow-origin"] == "http://qac.test"


async def test_another_origin_gets_the_file_without_permission_to_use_it(client) -> None:
    for origin in ("https://evil.example", "null", "https://shop.example:8443"):
        response = await client.get("/static/widget.js", headers={"Origin": origin})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers, origin
        assert "Origin" in response.headers["vary"], "a cache must not reuse it for SITE"


async def test_no_origin_header_means_no_cors_headers(client) -> None:
    response = await client.get("/static/widget.js")
    assert "access-control-allow-origin" not in response.headers


async def test_any_origin_with_a_star_gets_a_star(sample_index, static_dir) -> None:
    async with client_for(sample_index, static_dir, ("*",)) as c:
        response = await c.get("/static/widget.js", headers={"Origin": "https://any.example"})
        assert response.headers["access-control-allow-origin"] == "*"


async def test_a_preflight_is_answered_for_allowed_origins_and_reading_methods(client) -> None:
    asks = {"Origin": SITE, "Access-Control-Request-Method": "GET"}
    ok = await client.options("/static/widget.js", headers=asks)
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SITE
    assert ok.headers["access-control-allow-methods"] == "GET, HEAD"
    for headers in (
        {**asks, "Origin": "https://evil.example"},
        {**asks, "Access-Control-Request-Method": "DELETE"},
    ):
        refused = await client.options("/static/widget.js", headers=headers)
        assert "access-control-allow-origin" not in refused.headers


async def test_hashed_files_are_immutable_for_a_year_others_are_kept_briefly(client) -> None:
    hashed = await client.get(f"/static/{HASHED}")
    assert hashed.headers["cache-control"] == IMMUTABLE
    assert IMMUTABLE == "public, max-age=31536000, immutable"
    plain = await client.get("/static/widget.js")
    assert plain.headers["cache-control"] == SHORT == "public, max-age=300"
    again = await client.get("/static/widget.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == SHORT
    missing = await client.get("/static/nothing.js")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("cache-control", "")


async def test_text_files_are_gzipped_for_clients_that_accept_it(client) -> None:
    response = await client.get("/static/widget.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.startswith("export const ok = 1;")


def test_a_hashed_name_is_recognised_and_nothing_else_is() -> None:
    name = hashed_name("autocomplete-0.2.0", "ab" * 32, ".min.js")
    assert name == "autocomplete-0.2.0.ababababab.min.js"
    assert is_hashed(name) and is_hashed(f"/static/dist/{name}")
    for plain in ("autocomplete.js", "autocomplete.min.js", "autocomplete-0.2.0.js", "index.html"):
        assert not is_hashed(plain), plain
    with pytest.raises(ValueError, match="hex digits"):
        hashed_name("x", "not-hex", ".js")
    with pytest.raises(ValueError, match="suffix"):
        hashed_name("x", "ab" * 32, "js")
