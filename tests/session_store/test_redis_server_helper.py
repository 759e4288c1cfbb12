"""The `tests.redis_server` helper other test packages rely on."""

from __future__ import annotations

import pytest
import redis

from tests.redis_server import RedisServer, ping, require_redis_server

pytestmark = pytest.mark.redis


@pytest.fixture(autouse=True)
def _needs_redis_server() -> None:
    require_redis_server()


def test_started_server_answers_on_its_url() -> None:
    with RedisServer() as server:
        assert server.running and server.pid is not None
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        with redis.Redis.from_url(server.url) as client:
            assert client.ping() is True
    assert not server.running
    assert not ping(server.port)


def test_restart_keeps_the_port_and_starts_empty() -> None:
    with RedisServer() as server:
        url = server.url
        with redis.Redis.from_url(url) as client:
            client.set("k", "v")
        server.stop()
        assert not ping(server.port)
        server.start()
        assert server.url == url
        with redis.Redis.from_url(url) as client:
            assert client.get("k") is None


def test_persistent_server_keeps_data_across_restarts() -> None:
    with RedisServer(persistent=True) as server:
        with redis.Redis.from_url(server.url) as client:
            client.set("k", "v")
        server.stop()
        server.start()
        with redis.Redis.from_url(server.url) as client:
            assert client.get("k") == b"v"


def test_start_and_stop_are_idempotent() -> None:
    server = RedisServer()
    server.stop()
    server.start()
    pid = server.pid
    server.start()
    assert server.pid == pid
    server.close()
    server.close()
    assert not server.running


def test_explicit_port_in_use_is_a_clear_error() -> None:
    with RedisServer() as first:
        with pytest.raises(RuntimeError, match="already in use"):
            RedisServer(port=first.port).start()


def test_bad_arguments_surface_redis_server_output() -> None:
    with pytest.raises(RuntimeError, match="exited"):
        with RedisServer(extra_args=["--no-such-option", "1"]):
            pass
