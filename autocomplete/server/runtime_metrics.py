"""Process and Python runtime metrics of every worker: CPU, memory, file descriptors, GC.

prometheus-client's own process and GC collectors describe the process that answers a
scrape, which with N workers is a different one each time, and its multiprocess mode does not
carry them. So:

* `WorkerProcesses` reads the standard `process_*` metrics (CPU seconds, resident and virtual
  memory, open and maximum file descriptors, start time) of each live worker from `/proc`,
  labelled by `pid`: exact and current for every worker, whichever answers. Not summed: sum
  them in queries (`sum(process_resident_memory_bytes)`). Linux only (`/proc`); elsewhere they
  are absent. The supervisor process is not included.
* `GcCounters` copies CPython's collector statistics (`python_gc_collections_total`,
  `python_gc_objects_collected_total`, `python_gc_objects_uncollectable_total`, by
  generation) into multiprocess counters, summed over workers. Each worker copies them every
  `GC_SAMPLE_S` and when it answers a scrape, so other workers' counts may lag by that much.
  Copying from `gc.callbacks` would be exact but could deadlock: a collection can start while
  the same thread holds prometheus-client's (non-reentrant) lock on the metric files.
* `python_gc_pause_seconds_total` (by generation): how long collections stopped the worker,
  timed by a `gc.callbacks` hook that only adds to plain floats (`GcPauses`), summed over
  workers like the counts. Divided by `python_gc_collections_total` it is the mean pause;
  a full pass stalls every connection of its worker (`gcpolicy` keeps those short).
* `python_info` (interpreter version) is the answering worker's; all workers run the same one.

With one process and no multiprocess directory the same names come from prometheus-client's
`GCCollector` (and `GcPauses`), and `WorkerProcesses` reports the one process, so
dashboards read both alike.
"""

from __future__ import annotations

import functools
import gc
import platform
import time
from collections.abc import Callable, Iterable

from prometheus_client import Counter
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

#: Seconds between a worker's copies of its GC statistics in multiprocess mode.
GC_SAMPLE_S = 5.0


class WorkerProcesses(Collector):
    """The `process_*` metrics of each process `pids()` names, with a `pid` label."""

    def __init__(self, pids: Callable[[], Iterable[int]], proc: str = "/proc") -> None:
        self._pids = pids
        self._proc = proc

    def _reader(self, pid: int) -> ProcessCollector:
        return ProcessCollector(pid=lambda: pid, proc=self._proc, registry=None)

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for pid in sorted(self._pids()):
            for family in self._reader(pid).collect():  # nothing for a process that just exited
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for s in family.samples:
                    merged.add_sample(s.name, {**s.labels, "pid": str(pid)}, s.value)
        return list(families.values())


#: name and help of the pause counter, alike in the one-process and multiprocess registries
_PAUSE_METRIC = (
    "python_gc_pause_seconds",
    "Seconds collections of this generation stopped the process",
)


class GcPauses(Collector):
    """Seconds this process spent in collections so far, by generation; as a collector, the
    totals for a one-process registry.

    The hook runs inside every collection, so it takes no lock and touches no metric: it
    adds to a list of floats that `collect` and `GcCounters.sample` read later.
    """

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._hook)

    def _hook(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(*_PAUSE_METRIC, labels=["generation"])
        for generation, seconds in enumerate(self.seconds):
            family.add_metric([str(generation)], seconds)
        return [family]


@functools.cache
def gc_pauses() -> GcPauses:
    """The process's one `GcPauses` (a second hook would time every collection twice)."""
    return GcPauses()


class GcCounters:
    """This process's GC statistics as multiprocess counters (see the module)."""

    def __init__(self) -> None:
        self.supported = hasattr(gc, "get_stats") and platform.python_implementation() == "CPython"
        self._counters = {
            "collected": Counter(
                "python_gc_objects_collected",
                "Objects collected during gc",
                ["generation"],
                registry=None,
            ),
            "uncollectable": Counter(
                "python_gc_objects_uncollectable",
                "Uncollectable objects found during GC",
                ["generation"],
                registry=None,
            ),
            "collections": Counter(
                "python_gc_collections",
                "Number of times this generation was collected",
                ["generation"],
                registry=None,
            ),
        }
        self._seen: list[dict[str, int]] = []
        self._pause = Counter(*_PAUSE_METRIC, ["generation"], registry=None)
        self._pauses = gc_pauses()
        self._paused = [0.0, 0.0, 0.0]

    def sample(self) -> None:
        """Add what the collector did since the last sample."""
        if not self.supported:
            return
        stats = gc.get_stats()
        for generation, now in enumerate(stats):
            before = self._seen[generation] if generation < len(self._seen) else {}
            for key, counter in self._counters.items():
                delta = now[key] - before.get(key, 0)
                if delta > 0 or not before:
                    counter.labels(str(generation)).inc(max(delta, 0))
        self._seen = [dict(s) for s in stats]
        for generation, seconds in enumerate(list(self._pauses.seconds)):
            self._pause.labels(str(generation)).inc(max(seconds - self._paused[generation], 0.0))
            self._paused[generation] = seconds


@functools.cache
def gc_counters() -> GcCounters:
    """The process's one `GcCounters` (a second would count every collection twice)."""
    return GcCounters()
