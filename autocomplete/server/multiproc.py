"""prometheus-client's multiprocess mode: one scrape of `/metrics` counts every worker.

With N uvicorn workers a scrape reaches whichever worker accepts it. In multiprocess mode each
worker writes its metric values to small mmap'd files in a shared directory
(`PROMETHEUS_MULTIPROC_DIR`), and the worker answering a scrape reads them all: counters and
histograms are summed over every worker that ever ran (a dead worker's counts stay, so totals
never go backwards), and each gauge is merged by the mode its definition names.

prometheus-client picks the mode when it is first imported, from the environment, so the
directory must be set before a worker process starts. `metrics_dir` does that for
`autocomplete serve`: the operator's directory when set (stale files of an earlier run are
removed first, as prometheus-client requires), else a private one made for the run and removed
after it. A worker marks itself dead when it shuts down (`mark_dead`), which drops its share of
the "live" gauges (open connections, breaker state); a worker that crashed cannot, so a scrape
first drops the live files of any worker process that no longer exists (`reap_dead`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from prometheus_client import values
from prometheus_client.multiprocess import mark_process_dead

from .errors import ConfigError

ENV = "PROMETHEUS_MULTIPROC_DIR"
#: File names of "live" gauges, which hold only running processes' values: `gauge_live*_<pid>.db`.
_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")

log = logging.getLogger("autocomplete.server")


def active_dir() -> str | None:
    """The directory this process writes its metrics to, or None outside multiprocess mode.

    Both must hold: the variable is set, and prometheus-client read it when it was imported
    (a variable set later, as the supervisor does for its workers, does not switch the
    process that set it).
    """
    path = os.environ.get(ENV)
    if not path or not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return path


@contextlib.contextmanager
def metrics_dir(env: MutableMapping[str, str], workers: int) -> Iterator[str | None]:
    """The multiprocess directory for a run of `workers` processes, set in `env` for them.

    The operator's `PROMETHEUS_MULTIPROC_DIR` when set (it must be an existing directory; its
    `*.db` files, left by an earlier run, are removed); else, with more than one worker, a
    private directory removed when the run ends; else None (one process counts for itself).
    """
    given = env.get(ENV)
    if given:
        if not os.path.isdir(given):
            raise ConfigError(f"{ENV}={given!r} is not a directory; create it or unset it")
        for stale in Path(given).glob("*.db"):
            stale.unlink(missing_ok=True)
        yield given
        return
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="qac-metrics-")
    env[ENV] = path
    try:
        yield path
    finally:
        env.pop(ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def live_pids(path: str) -> set[int]:
    """Processes that have written live gauges to `path` and not been marked dead."""
    pids = set()
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path):
            match = _LIVE_FILE.fullmatch(entry.name)
            if match is not None:
                pids.add(int(match.group(1)))
    return pids


def mark_dead(pid: int, path: str) -> None:
    """Drop `pid`'s live gauges (its counters stay in the sums)."""
    with contextlib.suppress(FileNotFoundError):  # another worker may be removing them too
        mark_process_dead(pid, path)


def reap_dead(path: str) -> set[int]:
    """Mark dead every process with live gauges that no longer runs; the live pids left."""
    alive = set()
    for pid in live_pids(path):
        if _running(pid):
            alive.add(pid)
        else:
            log.info("metrics: worker %d is gone; dropping its live gauges", pid)
            mark_dead(pid, path)
    return alive


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now holds the pid: ours is gone
        return False
    return True
