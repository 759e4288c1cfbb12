"""The full build from the streaming driver: the in-memory build's index, blend weights
included (the fit replays only dev users' histories, which the driver keeps)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autocomplete.fit import FitParams
from autocomplete.history import keystrokes_with_history, seed_sessions
from autocomplete.model.artifact import IndexFiles
from autocomplete.streamed import build_full_streamed
from indexer.dataset import SplitSessions
from indexer.kanon import KAnonParams
from indexer.params import BuildParams
from indexer.stream.params import StreamParams
from session_store.base import StoreConfig


def _files(path: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in IndexFiles(path).manifest["files"].items()}


def test_the_streamed_full_build_fits_the_same_blend_as_the_in_memory_one(
    tmp_path: Path, sample_log: Path, blend_index_dir: Path
) -> None:
    params = BuildParams(model="mpc", kanon=KAnonParams.off())
    out = tmp_path / "blend"
    build_full_streamed(
        [sample_log], out, params, None, StreamParams(buckets=5), fit_params=FitParams(every=8)
    )
    ours, theirs = _files(out), _files(blend_index_dir)
    assert any("blend" in name for name in ours)
    assert ours == theirs


@pytest.mark.parametrize("size", [200, 3], ids=["default", "evicting"])
def test_seed_sessions_seed_every_dev_users_history_as_their_training_sessions_do(
    sample_split: SplitSessions, size: int
) -> None:
    config = StoreConfig(user_history_size=size)
    dev_users = {s.user for s in sample_split.dev}
    past = [s for s in sample_split.train if s.user in dev_users]
    seeds = seed_sessions(past, config)
    assert len(seeds) <= len(dev_users) and sum(map(len, (s.queries for s in seeds))) < sum(
        map(len, (s.queries for s in past))
    )
    ours = keystrokes_with_history(seeds, sample_split.dev, config)
    theirs = keystrokes_with_history(sample_split.train, sample_split.dev, config)
    checked = 0
    for (ex, ctx), (ex2, ctx2) in zip(ours, theirs, strict=True):
        assert ex == ex2 and ctx == ctx2
        checked += bool(ctx.history)
    assert checked > 1000


def test_build_index_with_partitions_streams_and_says_so(tmp_path: Path, sample_log: Path) -> None:
    out = tmp_path / "idx"
    p = subprocess.run(
        [sys.executable, "-m", "autocomplete.cli", "build-index", "--log", str(sample_log)]
        + ["--out", str(out), "--model", "mpc", "--no-blend", "--quiet"]
        + ["--partitions", "2", "--buckets", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "streamed: 3 buckets of users" in p.stdout
    assert IndexFiles(out).manifest["stats"]["stream"]["buckets"] == 3
    assert not (tmp_path / "idx.parts").exists()
