"""Replay against a real `autocomplete serve`: offline/online agreement, the CLI, restarts.

The agreement test is the point of the tool: on the same sessions and index, the quality
figures of `replay` (over the WebSocket, session context kept by the server's store) must
equal those of `evaluate` (context taken from the log), keystroke for keystroke.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from autocomplete.evaluate import evaluate
from autocomplete.loader import load_index
from autocomplete.replay.client import ClientSettings
from autocomplete.replay.plan import new_run_id, plan_sessions
from autocomplete.replay.runner import ReplaySettings, replay_sessions
from indexer.dataset import load_split
from tests.live_server import LiveServer, free_port

#: Replay types as fast as answers come; a user's 50 frames/s would only slow the tests down.
# The replay is one client address typing many sessions at once: lift the per-connection and
# the per-address budgets.
NO_RATE_LIMIT = {
    "QAC_RATE_PER_S": "1000000",
    "QAC_RATE_BURST": "1000000",
    "QAC_CLIENT_RATE_PER_S": "1000000",
    "QAC_CLIENT_RATE_BURST": "1000000",
}
# Fresh counts are a server-only signal (queries submitted by other sessions during the run):
# offline evaluation cannot see them, so agreement is checked with freshness off.
OFFLINE_EQUIVALENT = {**NO_RATE_LIMIT, "QAC_FRESH_REFRESH_S": "0"}
AGREEMENT_SESSIONS = 120  # ~4,000 keystrokes: the blended ranker is ~1-3 ms each


def assert_same_quality(online: dict[str, Any], offline: dict[str, Any]) -> None:
    assert online.keys() == offline.keys()
    for group, rows in offline.items():
        assert online[group].keys() == rows.keys(), group
        for bucket, row in rows.items():
            got = online[group][bucket]
            assert got["n"] == row["n"], (group, bucket)
            for metric, value in row.items():
                assert math.isclose(got[metric], value, rel_tol=0, abs_tol=1e-9), (
                    group,
                    bucket,
                    metric,
                    got[metric],
                    value,
                )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autocomplete.cli", "replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def mpc_server(built_sample_index: Path):
    with LiveServer(built_sample_index, env=NO_RATE_LIMIT) as server:
        yield server


def test_replay_and_evaluate_agree_on_the_blended_index(blend_index_dir, sample_log):
    index = load_index(blend_index_dir)
    assert index.files.has("blend"), "the blended (session-aware) ranker is what is checked"
    sessions = load_split([sample_log]).test[:AGREEMENT_SESSIONS]

    def is_seen(t: str) -> bool:
        return index.labels.id_of(t) >= 0

    offline = evaluate(index.ranker, sessions, is_seen, k=10)
    with LiveServer(blend_index_dir, env=OFFLINE_EQUIVALENT) as server:
        report, hello = asyncio.run(
            replay_sessions(
                server.ws_url,
                plan_sessions(sessions, new_run_id()),
                ReplaySettings(concurrency=4, seen_known=True),
                is_seen,
            )
        )
    assert hello["index"] == index.version
    d = report.to_dict()
    assert d["errors"] == {} and d["lost"] == 0
    assert d["keystrokes"] == d["answered"] == offline.examples
    assert_same_quality(report.quality, offline.quality)


def test_cli_json_jsonl_and_the_regression_gate(
    mpc_server, built_sample_index, sample_log, tmp_path
):
    common = (
        "--url",
        mpc_server.ws_url,
        "--log",
        str(sample_log),
        "--sessions",
        "40",
        "--concurrency",
        "3",
    )
    base, jsonl = tmp_path / "base.json", tmp_path / "sessions.jsonl"
    p = cli(*common, "--index", str(built_sample_index), "--json", "--out-jsonl", str(jsonl))
    assert p.returncode == 0, p.stderr
    assert "replay" not in p.stderr  # --json: no progress bar
    run = json.loads(p.stdout)
    base.write_text(p.stdout)
    assert run["sessions"] == 40 and run["keystrokes"] == run["answered"] > 0
    assert run["quality"]["seen"]["overall"]["n"] > 0 and run["seen_known"]
    assert set(run["latency_ms"]) >= {"p50", "p99", "p999"}
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["session"] for line in lines] == list(range(40))
    assert sum(line["keystrokes"] for line in lines) == run["keystrokes"]

    # Same sessions again, generous latency allowance: quality is identical, so it passes.
    ok = cli(*common, "--quiet", "--baseline", str(base), "--max-p99-rise", "1000")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "MRR@10" in ok.stdout and "regression gate passed" in ok.stdout
    assert "seen  (not computed" in ok.stdout

    better = dict(run, quality={"all": {"overall": {"mrr@10": 0.99}}})
    base.write_text(json.dumps(better))
    bad = cli(*common, "--quiet", "--baseline", str(base), "--max-p99-rise", "1000")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL MRR@10 0.9900 ->" in bad.stdout


def test_server_restart_mid_replay_reconnects_and_counts_what_was_lost(mpc_server, sample_log):
    plans = plan_sessions(load_split([sample_log]).test[:200], new_run_id())
    total = sum(p.keystrokes for p in plans)
    typed = 0
    halfway = threading.Event()
    restarted = threading.Event()
    failure: list[BaseException] = []

    def progress(n: int) -> None:
        nonlocal typed
        typed += n
        if typed >= total // 5:
            halfway.set()

    def restart() -> None:
        try:
            if halfway.wait(timeout=60):
                mpc_server.stop()
                mpc_server.start()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failure.append(exc)
        finally:
            restarted.set()

    restarter = threading.Thread(target=restart)
    restarter.start()
    try:
        report, _ = asyncio.run(
            replay_sessions(
                mpc_server.ws_url,
                plans,
                ReplaySettings(concurrency=4, client=ClientSettings()),
                progress=progress,
            )
        )
    finally:
        halfway.set()
        restarter.join(timeout=60)
    assert restarted.is_set() and not failure, failure
    d = report.to_dict()
    assert d["sessions"] == len(plans) and d["keystrokes"] == total  # nothing dropped silently
    assert d["reconnects"] >= 1 and d["errors"].get("disconnected", 0) >= 1
    assert d["lost"] >= 0 and d["answered"] + d["lost"] <= total
    assert (
        d["answered"]
        + d["lost"]
        + d["errors"].get("bad_request", 0)
        + d["errors"].get("unavailable", 0)
        == total
    )
    assert mpc_server.running


def assert_one_line_error(p: subprocess.CompletedProcess[str], needle: str, status: int) -> None:
    assert p.returncode == status, p
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and needle in p.stderr, p.stderr


def test_refused_connection_is_one_line_and_exit_1(sample_log):
    assert_one_line_error(
        cli("--url", f"ws://127.0.0.1:{free_port()}/ws", "--log", str(sample_log)),
        "connection refused",
        1,
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/ws", "not a url"])
def test_bad_url_is_one_line_and_exit_2(sample_log, url):
    assert_one_line_error(cli("--url", url, "--log", str(sample_log)), "bad URL", 2)


def test_index_other_than_the_served_one_is_refused(mpc_server, blend_index_dir, sample_log):
    assert_one_line_error(
        cli("--url", mpc_server.ws_url, "--log", str(sample_log), "--index", str(blend_index_dir)),
        "the 'seen' set would be wrong",
        2,
    )
