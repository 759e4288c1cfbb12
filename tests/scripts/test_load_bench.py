"""The WebSocket load bench: which sessions each connection replays, targets, warm-up, report."""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "load.py"
_spec = importlib.util.spec_from_file_location("load_bench", _PATH)
assert _spec is not None and _spec.loader is not None
load = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = load
_spec.loader.exec_module(load)


def _scripts(n: int, steps: int = 3) -> list[list[list[str]]]:
    return [[["complete", f"s{i}k{j}"] for j in range(steps)] for i in range(n)]


def test_a_connection_starts_mid_session_then_strides_through_other_sessions() -> None:
    scripts = _scripts(10)
    got = list(itertools.islice(load.keystrokes(scripts, 3, 4, 2), 7))
    assert [t for _, t in got] == ["s3k2", "s7k0", "s7k1", "s7k2", "s1k0", "s1k1", "s1k2"]


def test_no_session_recurs_until_every_session_has_been_started() -> None:
    scripts, connections = _scripts(12, steps=1), 5
    streams = [load.keystrokes(scripts, n, connections, 0) for n in range(connections)]
    started = [next(s)[1] for _ in range(3) for s in streams][:12]
    assert sorted(started) == sorted(f"s{i}k0" for i in range(12))


def test_index_arguments_name_the_folder_and_the_source_tree(tmp_path: Path) -> None:
    index, src = tmp_path / "idx", tmp_path / "old"
    index.mkdir()
    (src / "autocomplete").mkdir(parents=True)
    assert load.parse_index(str(index)) == load.Target("qac", index, load.ROOT)
    assert load.parse_index(f"a={index}") == load.Target("a", index, load.ROOT)
    assert load.parse_index(f"b={index}@{src}") == load.Target("b", index, src)
    with pytest.raises(argparse.ArgumentTypeError, match="no autocomplete package"):
        load.parse_index(f"b={index}@{tmp_path}")
    with pytest.raises(argparse.ArgumentTypeError, match="not echo"):
        load.parse_index(f"echo={index}")


def test_default_targets_are_echo_then_every_index_in_order(tmp_path: Path) -> None:
    a, b = load.Target("a", tmp_path), load.Target("b", tmp_path)
    args = argparse.Namespace(index=[b, a], targets=None, log=None)
    assert [t.name for t in load.resolve_targets(args, tmp_path)] == ["echo", "b", "a"]
    args.targets = "a,zz"
    with pytest.raises(SystemExit, match="zz"):
        load.resolve_targets(args, tmp_path)


def _run(target: str, rate: float, p50: float, cpu_ms: float) -> dict[str, Any]:
    return {
        "target": target,
        "rate_offered": rate,
        "rtt_complete_ms": {"p50": p50, "p99": 2 * p50},
        "server_cpu_ms_per_keystroke": cpu_ms,
    }


def test_runs_are_compared_with_echo_and_the_baseline_at_the_same_rate() -> None:
    runs = [
        _run("echo", 100, 1.0, 0.2),
        _run("a", 100, 2.0, 0.4),
        _run("b", 100, 3.0, 0.8),
        _run("a", 900, 10.0, 1.0),
        _run("b", 900, 5.0, 1.5),
    ]
    load.add_comparisons(runs, "a")
    assert runs[1]["vs_echo"] == {"p50": 2.0, "p99": 2.0, "server_cpu_per_keystroke": 2.0}
    assert runs[1]["vs_baseline"] is None
    assert runs[2]["vs_baseline"] == {
        "baseline": "a",
        "p50": 1.5,
        "p99": 1.5,
        "server_cpu_per_keystroke": 2.0,
    }
    assert runs[3]["vs_echo"] is None, "no echo run at 900/s"
    assert runs[4]["vs_baseline"]["p50"] == 0.5
    assert "vs_echo" not in runs[0]


def test_an_echo_run_per_rate_counts_only_keystrokes_sent_after_the_warmup(
    sample_log: Path, tmp_path: Path
) -> None:
    out = tmp_path / "load.json"
    argv = ["--log", str(sample_log), "--targets", "echo", "--connections", "4"]
    argv += ["--rate", "40", "80", "--warmup", "0.5", "--duration", "1", "--out", str(out)]
    assert load.main(argv) == 0
    report = json.loads(out.read_text())
    assert [(r["target"], r["rate_offered"]) for r in report["results"]] == [
        ("echo", 40.0),
        ("echo", 80.0),
    ]
    for r in report["results"]:
        rate = r["rate_offered"]
        assert r["connections_opened"] == 4 and r["errors"] == r["failures"] == 0
        # The schedule runs at `rate` throughout; a connection's first send is jittered.
        assert 0.5 * rate * 0.5 <= r["warmup"]["keystrokes"] <= 0.5 * rate * 1.5
        assert 0.8 * rate <= r["completions"] + r["submits"] <= 1.2 * rate
        assert r["measured_s"] == pytest.approx(1.0, abs=0.1)
