"""HTTP endpoints (`/healthz`, `/metrics`, `/`, `/static`) and the WebSocket handshake."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from autocomplete.loader import LoadedIndex
from autocomplete.server.app import create_app
from autocomplete.server.config import ServerConfig, default_static_dir
from session_store.base import StoreConfig
from session_store.memory import MemoryStore
from tests.credentials import user_token
from tests.live_server import LiveServer

from .client import complete, ws_session
from .fakes import GatedStore
from .metrics_text import sample

pytestmark = pytest.mark.anyio


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>demo</title>")
    (tmp_path / "widget.js").write_text("export const ok = 1;\n")
    return tmp_path


def http_client(config: ServerConfig, index: LoadedIndex, store=None) -> httpx.AsyncClient:
    app = create_app(config, index, store or MemoryStore(StoreConfig()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(sample_index, static_dir) -> AsyncIterator[httpx.AsyncClient]:
    config = ServerConfig(index="unused", static_dir=str(static_dir))
    async with http_client(config, sample_index) as c:
        yield c


async def test_healthz_reports_index_and_store(client, sample_index) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["index"] == {
        "loaded": True,
        "version": sample_index.version,
        "model": "mpc",
        "labels": len(sample_index.labels.counts),
    }
    assert body["store"] == {"name": "memory", "reachable": True}


async def test_healthz_is_degraded_but_200_when_the_store_is_down(sample_index) -> None:
    store = GatedStore()
    store.failing = True
    async with http_client(ServerConfig(index="unused"), sample_index, store) as c:
        response = await c.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["store"]["reachable"] is False
        metrics = (await c.get("/metrics")).text
        assert sample(metrics, "qac_store_available") == 0
        assert sample(metrics, "qac_store_failures_total", op="ping") == 1


async def test_metrics_are_prometheus_text_with_every_family(client, sample_index) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    for name in (
        "qac_requests_total",
        "qac_errors_total",
        "qac_completion_latency_seconds",
        "qac_open_connections",
        "qac_store_available",
        "qac_store_failures_total",
        "qac_superseded_total",
        "qac_refused_connections_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert sample(text, "qac_index_info", version=sample_index.version, model="mpc") == 1
    assert sample(text, "qac_errors_total", code="rate_limited") == 0


async def test_one_process_reports_its_process_and_runtime_metrics_by_pid(client) -> None:
    text = (await client.get("/metrics")).text
    pid = str(os.getpid())
    if Path("/proc/self/stat").exists():
        for name in (
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ):
            assert sample(text, name, pid=pid) > 0, name
    assert sample(text, "python_gc_collections_total", generation="0") >= 0
    assert "python_info{" in text
    assert sample(text, "qac_worker_info", pid=pid, store="memory") == 1


async def test_each_app_counts_in_its_own_registry(sample_index) -> None:
    a = create_app(ServerConfig(index="a"), sample_index, MemoryStore(StoreConfig()))
    b = create_app(ServerConfig(index="b"), sample_index, MemoryStore(StoreConfig()))
    a.state.server.metrics.requests.labels("complete").inc()
    text_b = b.state.server.metrics.render()[0].decode()
    assert sample(text_b, "qac_requests_total", type="complete") == 0


async def test_demo_page_and_static_files_are_served(client) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>demo</title>" in page.text
    js = await client.get("/static/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert (await client.get("/static/missing.js")).status_code == 404
    assert (await client.get("/static/../config.py")).status_code == 404


async def test_a_missing_demo_folder_is_a_clear_404(sample_index, tmp_path) -> None:
    config = ServerConfig(index="unused", static_dir=str(tmp_path / "nowhere"))
    async with http_client(config, sample_index) as c:
        for path in ("/", "/static/autocomplete.js"):
            response = await c.get(path)
            assert response.status_code == 404 and "QAC_STATIC_DIR" in response.text


def test_the_default_static_folder_is_the_repositorys_web_demo() -> None:
    assert Path(default_static_dir()) == Path(__file__).resolve().parents[2] / "web_demo"


# -- the handshake, over a real socket -------------------------------------------------------


@pytest.fixture(scope="module")
def live(built_sample_index: Path) -> Iterator[LiveServer]:
    with LiveServer(built_sample_index) as server:
        yield server


async def test_hello_names_the_session_the_server_issued_and_sets_it_as_a_cookie(live) -> None:
    async with ws_session(live.ws_url) as (ws, hello):
        session = hello["session"]
        assert hello["index"] == live.healthz()["index"]["version"]
        assert hello["auth"] == "anonymous"
        assert ws.response.headers["set-cookie"].startswith(f"qac_session={session};")
    async with ws_session(live.ws_url) as (_, other):
        assert other["session"] != session


async def test_an_issued_session_resumes_from_the_parameter_or_the_cookie(live) -> None:
    async with ws_session(live.ws_url) as (_, hello):
        session = hello["session"]
    async with ws_session(live.ws_url + f"?session={session}") as (ws, again):
        assert again["session"] == session
        assert "set-cookie" not in ws.response.headers
    async with ws_session(live.ws_url, additional_headers={"Cookie": f"qac_session={session}"}) as (
        _,
        by_cookie,
    ):
        assert by_cookie["session"] == session


async def test_a_made_up_session_id_is_replaced_never_adopted(live) -> None:
    for made_up in ("tab-42", "no%20spaces%20please"):
        async with ws_session(live.ws_url + f"?session={made_up}") as (ws, hello):
            assert hello["session"] != made_up and len(hello["session"]) >= 16
            assert ws.response.headers["set-cookie"].startswith(f"qac_session={hello['session']};")


async def test_user_ids_tokens_and_session_ids_never_appear_in_the_server_log(live) -> None:
    token = user_token("secretbob77")
    async with ws_session(f"{live.ws_url}?token={token}") as (ws, hello):
        assert hello["auth"] == "user"
        await ws.send('{"type":"submit","id":1,"query":"private thing"}')
        await ws.recv()
        await complete(ws, "pri")
    output = live.output()
    assert "secretbob77" not in output
    assert token.split(".")[2] not in output and hello["session"] not in output
    assert "/ws?<dropped>" in output


async def test_open_connections_are_counted(live) -> None:
    base = sample(live.metrics(), "qac_open_connections")
    async with ws_session(live.ws_url), ws_session(live.ws_url):
        assert sample(live.metrics(), "qac_open_connections") == base + 2


async def test_completions_for_real_prefixes_extend_them(live) -> None:
    async with ws_session(live.ws_url) as (ws, _):
        for i, prefix in enumerate(["g", "go", "new ", "www.", "zzzzqqq"]):
            reply = await complete(ws, prefix, request_id=i, k=7)
            assert reply["prefix"] == prefix and len(reply["items"]) <= 7
            for item in reply["items"]:
                assert item["source"] in ("index", "history", "generated", "fresh")
                assert isinstance(item["score"], float)
                assert item["text"].startswith(prefix) or item.get("corrected") is True
            assert reply["took_ms"] >= 0
        assert reply["items"] == []
