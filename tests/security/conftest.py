"""Fixtures for the adversarial suite: the sample index, real Redis, async test support."""

from __future__ import annotations

import pytest

from tests.live_server import built_sample_index  # noqa: F401 - a fixture, used by name
from tests.redis_server import redis_server_fixture

own_redis_server = redis_server_fixture(scope="function")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
