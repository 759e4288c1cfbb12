"""Per-session outcomes, run totals, and the printed table."""

from __future__ import annotations

from autocomplete.replay.outcome import (
    QueryOutcome,
    ReplayReport,
    SessionOutcome,
    format_report,
    percentiles,
)
from indexer.metrics import QualityReport


def outcome(index: int, hits: list[bool], rtt: float = 1.0) -> SessionOutcome:
    o = SessionOutcome(index, f"s-{index}", "u")
    o.queries.append(QueryOutcome("abc"))
    for i, hit in enumerate(hits):
        o.score("abc"[: i + 1], "abc", ["abc"] if hit else ["abx"], seen=True)
        o.answered += 1
        o.rtt_ms.append(rtt)
    return o


def test_percentiles_of_nothing_are_zero():
    assert percentiles([]) == {"p50": 0.0, "p99": 0.0, "p999": 0.0, "mean": 0.0, "max": 0.0}


def test_percentiles_pick_the_tail():
    p = percentiles([float(i) for i in range(1, 1001)])
    assert p["p50"] == 500.5 and p["max"] == 1000.0 and 990 < p["p99"] < p["p999"] < 1000


def test_report_quality_equals_one_quality_report_over_all_keystrokes():
    a, b = outcome(0, [True, False]), outcome(1, [False])
    report = ReplayReport("ws://x/ws", "test", seen_known=True)
    report.add(a)
    report.add(b)
    direct = QualityReport()
    direct.add("a", "abc", ["abc"], True)
    direct.add("ab", "abc", ["abx"], True)
    direct.add("a", "abc", ["abx"], True)
    assert report.quality == direct.to_dict()
    d = report.to_dict()
    assert (d["sessions"], d["keystrokes"], d["answered"], d["lost"]) == (2, 3, 3, 0)


def test_seen_set_is_empty_when_labels_were_not_looked_up():
    report = ReplayReport("ws://x/ws", "test", seen_known=False)
    report.add(outcome(0, [True]))
    assert report.quality["seen"] == {} and report.quality["all"]["overall"]["n"] == 1
    assert "not computed" in format_report(report.to_dict())


def test_session_line_has_per_query_reciprocal_ranks():
    o = outcome(3, [True, False])
    o.errors["timeout"] += 1
    line = o.to_json()
    assert line["session"] == 3 and line["id"] == "s-3"
    assert line["detail"] == [{"query": "abc", "rr": [1.0, 0.0]}]
    assert line["mrr@10"] == 0.5 and line["errors"] == {"timeout": 1}


def test_table_shows_latency_and_errors():
    report = ReplayReport("ws://x/ws", "test")
    o = outcome(0, [True], rtt=2.5)
    o.errors["rate_limited"] += 2
    report.add(o)
    text = format_report(report.to_dict())
    assert "p50 2.50" in text and "rate_limited 2" in text and "MRR@10" in text
