"""Fixtures for the server tests: the sample index, real Redis servers, async test support."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocomplete.loader import LoadedIndex, load_index
from tests.live_server import built_sample_index  # noqa: F401 - a fixture, used by name
from tests.redis_server import redis_server_fixture

own_redis_server = redis_server_fixture(scope="function")
own_persistent_redis = redis_server_fixture(scope="function", persistent=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sample_index(built_sample_index: Path) -> LoadedIndex:  # noqa: F811
    return load_index(built_sample_index)
