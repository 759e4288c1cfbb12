"""The `LiveServer` fixture other test packages drive the server with."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live_server import LiveServer

from .client import complete, ws_session

pytestmark = pytest.mark.anyio


async def test_kill_and_start_come_back_on_the_same_port_with_a_new_process(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index, env={"QAC_LOG_LEVEL": "warning"}) as server:
        url, first_pid = server.url, server.pid
        server.kill()
        assert not server.running
        server.start()
        assert server.url == url and server.pid != first_pid
        assert server.healthz()["status"] == "ok"
        async with ws_session(server.ws_url) as (ws, _):
            assert (await complete(ws, "goo"))["items"]
        assert server.stop() in (0, -15)
        assert server.stop() is None, "stopping a stopped server is a no-op"


def test_a_server_that_cannot_start_reports_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not an index directory"):
        with LiveServer(tmp_path / "missing"):
            pass
