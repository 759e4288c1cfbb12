"""Backoff schedules and rate pacing, with the randomness pinned."""

from __future__ import annotations

import itertools

import pytest

from autocomplete.replay.retry import Backoff, Pacer


def test_delays_double_up_to_the_cap_and_stop_at_the_deadline():
    b = Backoff(base_s=0.1, factor=2.0, max_s=0.4, deadline_s=1.5)
    assert [round(d, 6) for d in b.delays(lambda: 1.0)] == [0.1, 0.2, 0.4, 0.4, 0.4]
    halves = list(b.delays(lambda: 0.0))
    assert halves[:3] == [0.05, 0.1, 0.2]
    assert sum(halves) == pytest.approx(1.5)


def test_zero_deadline_means_no_retry():
    assert list(Backoff(deadline_s=0).delays()) == []


def test_jittered_delays_stay_within_half_to_full_cap():
    b = Backoff(base_s=0.1, factor=2.0, max_s=1.0, deadline_s=100)
    for i, d in enumerate(itertools.islice(b.delays(), 8)):
        cap = min(0.1 * 2**i, 1.0)
        assert cap / 2 <= d <= cap


@pytest.mark.parametrize(
    "kw", [{"base_s": 0}, {"base_s": 2, "max_s": 1}, {"factor": 0.5}, {"deadline_s": -1}]
)
def test_nonsense_backoff_is_refused(kw):
    with pytest.raises(ValueError):
        Backoff(**kw)


def test_pacer_doubles_on_refusal_and_decays_back_to_zero():
    p = Pacer(floor_s=0.01, ceiling_s=0.05, decay=0.5)
    p.refused()
    assert p.interval_s == 0.01
    p.refused()
    p.refused()
    p.refused()
    assert p.interval_s == 0.05
    for _ in range(4):
        p.served()
    assert p.interval_s == 0.0
