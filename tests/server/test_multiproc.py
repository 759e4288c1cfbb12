"""The multiprocess metrics directory: who makes it, who clears it, whose live gauges count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autocomplete.server.errors import ConfigError
from autocomplete.server.multiproc import ENV, live_pids, metrics_dir, reap_dead
from tests.live_server import LiveServer

from .client import complete, ws_session
from .metrics_text import sample


def a_dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_several_workers_get_a_private_directory_removed_after_the_run() -> None:
    env: dict[str, str] = {}
    with metrics_dir(env, workers=2) as path:
        assert path is not None and env[ENV] == path and os.path.isdir(path)
        Path(path, "counter_1.db").write_bytes(b"")
    assert ENV not in env and not os.path.exists(path)


def test_one_worker_without_a_directory_counts_for_itself() -> None:
    env: dict[str, str] = {}
    with metrics_dir(env, workers=1) as path:
        assert path is None and env == {}


def test_the_operators_directory_is_kept_and_cleared_of_an_earlier_runs_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("not ours")
    env = {ENV: str(tmp_path)}
    with metrics_dir(env, workers=2) as path:
        assert path == str(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert env == {ENV: str(tmp_path)} and tmp_path.is_dir()


def test_an_operators_directory_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    with (
        pytest.raises(ConfigError, match=f"{ENV}=.*not a directory"),
        metrics_dir({ENV: str(tmp_path / "missing")}, workers=2),
    ):
        pass


def test_live_gauges_of_a_process_that_is_gone_are_dropped_and_counters_kept(
    tmp_path: Path,
) -> None:
    dead, alive = a_dead_pid(), os.getpid()
    for name in (
        f"gauge_livesum_{dead}.db",
        f"gauge_liveall_{dead}.db",
        f"counter_{dead}.db",
        f"gauge_livemax_{alive}.db",
        f"gauge_all_{dead}.db",
    ):
        (tmp_path / name).write_bytes(b"")
    assert live_pids(str(tmp_path)) == {dead, alive}
    assert reap_dead(str(tmp_path)) == {alive}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"counter_{dead}.db",
        f"gauge_all_{dead}.db",
        f"gauge_livemax_{alive}.db",
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("workers", [1, 2])
async def test_a_server_restarted_on_the_operators_directory_counts_from_zero(
    built_sample_index: Path, tmp_path: Path, workers: int
) -> None:
    server = LiveServer(built_sample_index, workers=workers, env={ENV: str(tmp_path)})
    with server:
        async with ws_session(server.ws_url) as (ws, _):
            await complete(ws, "goo")
        assert sample(server.metrics(), "qac_requests_total", type="complete") == 1
        assert list(tmp_path.glob("counter_*.db")), "the workers write to the operator's folder"
        server.stop()
        server.start()
        assert sample(server.metrics(), "qac_requests_total", type="complete") == 0
    assert tmp_path.is_dir()
