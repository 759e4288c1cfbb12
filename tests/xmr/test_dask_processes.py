"""The partitioned build against a Dask cluster of separate processes, as an operator runs one.

`dask scheduler` and `dask worker` are started as commands (`python -m distributed.cli...`),
each in a directory of its own, so a worker imports this package only through its
PYTHONPATH, as a worker host would through its installed package. The build reaches the
scheduler by address only (`--scheduler`), and its index must be the single-process one.

Dask's nanny starts workers with `MALLOC_TRIM_THRESHOLD_=65536`, which doubles a branch's CPU
(README "Building an index past one machine"); the build's own local clusters unset it, but a
cluster it does not start keeps whatever its operator configured. The worker here is
configured as the README tells operators to, and the manifest says what the worker had.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from autocomplete.loader import load_index
from autocomplete.model.artifact import IndexFiles
from autocomplete.ranking import Context
from indexer.build import build_index
from indexer.params import BuildParams
from indexer.stream.build import build_index_streamed
from indexer.stream.params import StreamParams
from indexer.xmr.cluster import MALLOC_TRIM, ClusterParams
from tests.conftest import ROOT, SMALL

distributed = pytest.importorskip("distributed")

#: the default K and bounds: a few hundred labels, so three branches train in seconds
PARAMS = BuildParams(model="xmr", xmr=SMALL)
#: how long a process gets to come up or to stop
DEADLINE_S = 30.0
#: the operator's worker config of README "Building an index past one machine"
WORKER_CONFIG = """\
distributed:
  nanny:
    pre-spawn-environ:
      MALLOC_TRIM_THRESHOLD_: null
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != MALLOC_TRIM and not k.startswith("DASK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env | extra


@contextmanager
def _process(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A Dask command running in `cwd`, its output in `cwd/out.log`; stopped (SIGTERM, then
    SIGKILL past the deadline) on the way out."""
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "out.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _scheduler_address(proc: subprocess.Popen[bytes], file: Path) -> str:
    """The address the scheduler wrote to its scheduler file, polled until the deadline;
    each poll also waits briefly on the process, so one that died fails at once."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            return str(json.loads(file.read_text())["address"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        try:
            code = proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        log = (file.parent / "out.log").read_text(errors="replace")
        raise AssertionError(f"dask scheduler exited with {code}:\n{log}")
    raise AssertionError(f"dask scheduler wrote no {file} in {DEADLINE_S} s")


@contextmanager
def _worker(address: str, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """One `dask worker` process of one thread on `address`; yields once the scheduler
    knows it (its address)."""
    args = ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1"]
    args += ["--memory-limit", "1GiB", "--no-dashboard", "--host", "127.0.0.1"]
    args += ["--local-directory", str(cwd / "space")]
    with (
        distributed.Client(address, timeout=DEADLINE_S) as client,
        _process(args, cwd, env) as proc,
    ):
        before = set(client.scheduler_info()["workers"])
        deadline = time.monotonic() + DEADLINE_S
        while not (new := set(client.scheduler_info()["workers"]) - before):
            if time.monotonic() > deadline:
                raise AssertionError(f"dask worker did not join in {DEADLINE_S} s")
            try:
                code = proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            log = (cwd / "out.log").read_text(errors="replace")
            raise AssertionError(f"dask worker exited with {code}:\n{log}")
        yield new.pop()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` on a port of the system's choosing, found in its scheduler file."""
    cwd = tmp_path_factory.mktemp("scheduler")
    file = cwd / "scheduler.json"
    args = ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
    args += ["--no-dashboard", "--scheduler-file", str(file)]
    with _process(args, cwd, _env()) as proc:
        yield _scheduler_address(proc, file)


@pytest.fixture(scope="module")
def configured_worker(tmp_path_factory: pytest.TempPathFactory, scheduler: str) -> Iterator[str]:
    """A worker whose Dask config unsets MALLOC_TRIM_THRESHOLD_, from a config directory
    named by DASK_CONFIG (the same file as `~/.config/dask/distributed.yaml`)."""
    cwd = tmp_path_factory.mktemp("worker")
    (cwd / "config").mkdir()
    (cwd / "config" / "distributed.yaml").write_text(WORKER_CONFIG)
    with _worker(scheduler, cwd, _env(DASK_CONFIG=str(cwd / "config"))) as address:
        yield address


def _trim_threshold() -> str | None:
    """The variable in the process this runs in (`client.run` sends it by reference: the
    worker imports this module, as it imports the package, through PYTHONPATH; a bound
    `os.environ.get` would carry the caller's environment along instead)."""
    return os.environ.get(MALLOC_TRIM)


def _files(path: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in IndexFiles(path).manifest["files"].items()}


def test_the_streamed_build_on_separate_scheduler_and_worker_processes_is_the_single_build(
    tmp_path: Path, sample_log: Path, scheduler: str, configured_worker: str
) -> None:
    cp = ClusterParams(partitions=3, scheduler=scheduler, work_dir=str(tmp_path / "parts"))
    out = tmp_path / "remote"
    build_index_streamed([sample_log], out, PARAMS, cp, StreamParams(buckets=4))
    build_index([sample_log], tmp_path / "single", PARAMS)

    assert _files(out) == _files(tmp_path / "single")
    part = IndexFiles(out).manifest["stats"]["xmr"]["partition"]
    assert part["scheduler"] == scheduler and len(part["branches"]) == 3
    assert part["worker_malloc_trim_threshold"] == [None]
    assert not (tmp_path / "parts").exists()
    ranker = load_index(out).ranker
    assert ranker.complete(Context((), (), 0.0), "go", 10)


def test_a_worker_keeps_daskss_malloc_trim_threshold_unless_its_config_unsets_it(
    tmp_path: Path, scheduler: str, configured_worker: str
) -> None:
    """The two ways to unset it (a config file, or the config as one environment
    variable) against Dask's default; what the worker process itself sees."""
    recipes = {
        "default": _env(),
        "environment": _env(
            DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{'MALLOC_TRIM_THRESHOLD_': None}"
        ),
    }
    seen = {}
    with distributed.Client(scheduler, timeout=DEADLINE_S) as client:
        for name, env in recipes.items():
            with _worker(scheduler, tmp_path / name, env) as address:
                seen[name] = client.run(_trim_threshold, workers=[address])[address]
        config = client.run(_trim_threshold, workers=[configured_worker])
    assert seen == {"default": "65536", "environment": None}
    assert config == {configured_worker: None}
