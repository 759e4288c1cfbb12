"""The garbage collector while serving: the heap alive at start is frozen out of full
passes for the server's life, and the pauses collections cause are in `/metrics`."""

from __future__ import annotations

import gc
import weakref

import pytest

from autocomplete.server.app import create_app
from autocomplete.server.config import ServerConfig
from autocomplete.server.gcpolicy import frozen_heap
from session_store.base import StoreConfig
from session_store.memory import MemoryStore

from .metrics_text import sample

pytestmark = pytest.mark.anyio


class Node:
    """A class instance the collector tracks, able to join a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_what_is_alive_at_start_is_frozen_until_the_block_ends() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap() as frozen:
        assert frozen > 1000  # the interpreter's modules, this test's objects
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0


def test_frozen_objects_are_still_freed_when_dropped_and_new_cycles_still_collected() -> None:
    dropped = Node()
    gone = weakref.ref(dropped)
    with frozen_heap():
        del dropped  # reference counting frees a frozen object as any other
        assert gone() is None
        a, b = Node(), Node()  # a cycle made while serving: the collector's to free
        a.other, b.other = b, a
        cycle = weakref.ref(a)
        del a, b
        gc.collect()
        assert cycle() is None


async def test_the_server_freezes_its_loaded_heap_while_it_serves(sample_index) -> None:
    app = create_app(ServerConfig(index="unused"), sample_index, MemoryStore(StoreConfig()))
    async with app.router.lifespan_context(app):
        # the index and everything the worker warmed at start
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0


async def test_an_operator_can_leave_the_collector_as_cpython_sets_it(sample_index) -> None:
    config = ServerConfig.from_env({"QAC_INDEX": "unused", "QAC_GC_FREEZE": "0"})
    assert config.gc_freeze is False and ServerConfig(index="unused").gc_freeze is True
    app = create_app(config, sample_index, MemoryStore(StoreConfig()))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0


async def test_collection_pauses_are_counted_by_generation(sample_index) -> None:
    app = create_app(ServerConfig(index="unused"), sample_index, MemoryStore(StoreConfig()))
    gc.collect()
    text = app.state.server.metrics.render()[0].decode()
    assert sample(text, "python_gc_pause_seconds_total", generation="2") > 0
    assert sample(text, "python_gc_pause_seconds_total", generation="0") >= 0
