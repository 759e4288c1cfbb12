"""A build's progress: phases that start, step and end (or fail), on a clock the test holds."""

from __future__ import annotations

import pytest

from indexer.progress import Event, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_phase_reports_start_steps_and_end_with_its_elapsed_time() -> None:
    clock, seen = Clock(), []
    report = Progress(seen.append, clock)
    clock.now += 2
    with report.phase("tables", total=3) as ph:
        clock.now += 1.5
        ph.advance()
        ph.advance(2, detail="all saved")
        ph.finish("900 endings")
    assert [(e.kind, e.done, e.total, e.detail) for e in seen] == [
        ("start", 0, 3, ""),
        ("step", 1, 3, ""),
        ("step", 3, 3, "all saved"),
        ("end", 3, 3, "900 endings"),
    ]
    assert (seen[-1].phase_s, seen[-1].build_s) == (1.5, 3.5)
    assert seen[-1].line() == "[    3.5s] tables: done in 1.5s: 900 endings"
    assert seen[0].line() == "[    2.0s] tables: started (3 steps)"
    assert seen[2].line() == "[    3.5s] tables: 3/3: all saved"


def test_a_step_with_a_total_estimates_the_time_left_at_the_pace_so_far() -> None:
    clock, seen = Clock(), []
    report = Progress(seen.append, clock)
    with report.phase("XR-Linear training", total=5) as ph:
        clock.now += 20
        ph.advance(2, detail="level 2")
        ph.finish("5 levels")
    assert seen[1].line() == "[   20.0s] XR-Linear training: 2/5, ~30s left: level 2"


def test_a_phase_an_error_leaves_is_reported_failed_and_the_error_goes_on() -> None:
    seen: list[Event] = []
    with pytest.raises(ValueError, match="bad row"), Progress(seen.append).phase("reading log"):
        raise ValueError("bad row")
    assert [e.kind for e in seen] == ["start", "failed"]
    assert "reading log: failed after" in seen[-1].line()


def test_a_plain_callable_gets_one_line_per_event() -> None:
    lines: list[str] = []
    with Progress.of(lines.append).phase("labels") as ph:
        ph.finish("115 labels")
    assert len(lines) == 2 and lines[1].endswith("labels: done in 0.0s: 115 labels")


def test_no_sink_reports_to_nobody() -> None:
    report = Progress.of(None)
    assert Progress.of(report) is report
    with report.phase("labels") as ph:
        ph.advance()
    assert ph.done == 1
