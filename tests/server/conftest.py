"""Fixtures for the server tests: the sample index, real Redis servers, async test support."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autocomplete.loader import LoadedIndex, load_index
from autocomplete.server.app import create_app
from autocomplete.server.config import ServerConfig
from tests.live_server import (
    built_sample_index,  # noqa: F401 - a fixture, used by name
    free_port,
)
from tests.redis_server import redis_server_fixture

from .fakes import GatedStore
from .inprocess import InProcessServer

own_redis_server = redis_server_fixture(scope="function")
own_persistent_redis = redis_server_fixture(scope="function", persistent=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sample_index(built_sample_index: Path) -> LoadedIndex:  # noqa: F811
    return load_index(built_sample_index)


@pytest.fixture
def held_server(sample_index: LoadedIndex) -> Iterator[tuple[InProcessServer, GatedStore]]:
    """The app on a real socket, with a session store that answers when the test says so."""
    store = GatedStore()
    # Keystrokes wait for the held context read as long as the test needs (the production
    # read budget would give up after 20 ms and rank without it).
    config = ServerConfig(index="unused", port=free_port(), store_read_timeout_s=5.0)
    with InProcessServer(create_app(config, sample_index, store), config) as server:
        yield server, store
    store.release.set()
