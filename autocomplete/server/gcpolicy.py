"""The garbage collector while serving: the loaded heap frozen, full passes short.

CPython's full (generation 2) collection walks every tracked object that is still alive, and
while it runs the worker answers no one. A worker's long-lived heap is the interpreter's
modules, the loaded index and the memos warmed at start: walked in full, that took ~15-20 ms
on the 2-core benchmark machine (and ~80 ms once the memos had filled with tracked objects),
a stall every few tens of thousands of keystrokes that every connection of the worker waits
through. What is alive when serving starts lives as long as the index, so the lifespan
collects once and freezes it (`gc.freeze`): later full passes walk only what serving made
since. A frozen object is still freed by reference counting when dropped (a memo entry
evicted, say); only a reference cycle among frozen objects would outlive its use, and
serving makes none there. Unfrozen when the server stops, so a process that runs servers one
after another (the tests) collects the old ones.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def frozen_heap() -> Iterator[int]:
    """Freeze what is alive now for the life of the block; yields how many objects that is."""
    gc.collect()
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
