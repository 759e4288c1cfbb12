"""The regression gate: what passes, what fails, and what it says."""

from __future__ import annotations

import json

import pytest

from autocomplete.replay.errors import BaselineError
from autocomplete.replay.gate import GateLimits, compare, load_baseline


def run(mrr: float, p99: float | None = 10.0, keystrokes: int = 100) -> dict:
    d = {"keystrokes": keystrokes, "quality": {"all": {"overall": {"mrr@10": mrr}}}}
    if p99 is not None:
        d["latency_ms"] = {"p50": 1.0, "p99": p99}
    return d


def test_same_run_passes():
    assert compare(run(0.3), run(0.3)).passed


def test_small_drop_and_rise_within_limits_pass():
    assert compare(run(0.296, p99=14.9), run(0.3, p99=10.0)).passed


def test_mrr_drop_beyond_limit_fails_and_says_so():
    res = compare(run(0.29), run(0.3))
    assert not res.passed
    assert res.failures == ["MRR@10 0.3000 -> 0.2900 (-0.0100; allowed drop 0.005)"]
    assert "FAIL" in res.summary()


def test_p99_rise_beyond_limit_fails():
    res = compare(run(0.3, p99=16.0), run(0.3, p99=10.0))
    assert [c.name for c in res.checks if not c.passed] == ["p99"]
    assert "+60%" in res.failures[0]


def test_limits_are_configurable():
    assert compare(
        run(0.29, p99=30), run(0.3, p99=10), GateLimits(max_mrr_drop=0.02, max_p99_rise=2.0)
    ).passed


def test_an_evaluate_baseline_has_no_latency_so_only_quality_is_gated():
    evaluate_json = {"examples": 100, "quality": {"all": {"overall": {"mrr@10": 0.3}}}}
    res = compare(run(0.3), evaluate_json)
    assert res.passed and [c.name for c in res.checks] == ["mrr@10"]
    assert any("latency not compared" in n for n in res.notes)


def test_different_workloads_get_a_note():
    res = compare(run(0.3, keystrokes=10), run(0.3, keystrokes=20))
    assert any("different workloads" in n for n in res.notes)


def test_baseline_file_round_trip(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(run(0.3)))
    assert load_baseline(path) == run(0.3)


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "cannot read"),
        ("{nope", "not JSON"),
        ("[1]", "not an object"),
        ('{"quality": {}}', "mrr@10"),
    ],
)
def test_unusable_baselines_are_clear_errors(tmp_path, content, needle):
    path = tmp_path / "old.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError, match=needle):
        load_baseline(path)
