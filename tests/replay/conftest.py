"""Fixtures for the replay tests: anyio on asyncio, the live-server index fixtures."""

from __future__ import annotations

import pytest

from tests.live_server import built_sample_index  # noqa: F401 - a fixture, used by name


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
