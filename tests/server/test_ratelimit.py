"""Token bucket and flood guard, on a hand-driven clock."""

from __future__ import annotations

import pytest

from autocomplete.server.ratelimit import FloodGuard, TokenBucket, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_and_refuses_when_empty() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2, capacity=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2, capacity=3, clock=clock)
    for _ in range(3):
        bucket.take()
    clock.now += 0.5  # one token back
    assert bucket.take() and not bucket.take()
    clock.now += 3600
    assert bucket.tokens == 3


def test_bucket_ignores_a_clock_that_goes_backwards() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=1, capacity=1, clock=clock)
    bucket.take()
    clock.now -= 10
    assert not bucket.take()
    clock.now += 1
    assert bucket.take()


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (-1, 5), (1, 0)])
def test_bucket_rejects_nonsense_settings(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError, match="rate_per_s > 0 and capacity >= 1"):
        TokenBucket(rate, capacity)


def test_guard_allows_a_burst_then_rejects_then_closes_a_flood() -> None:
    guard = FloodGuard(rate_per_s=10, burst=5, close_after=3, clock=Clock())
    verdicts = [guard.check() for _ in range(10)]
    assert verdicts[:5] == [Verdict.ALLOW] * 5
    assert verdicts[5:8] == [Verdict.REJECT] * 3
    assert verdicts[8:] == [Verdict.CLOSE] * 2


def test_guard_forgives_a_client_that_slows_down() -> None:
    clock = Clock()
    guard = FloodGuard(rate_per_s=10, burst=5, close_after=3, window_s=10, clock=clock)
    for _ in range(7):  # burst + two rejections: not yet closed
        guard.check()
    for _ in range(100):  # then a steady 5 frames a second, under the limit
        clock.now += 0.2
        assert guard.check() is Verdict.ALLOW
    clock.now += 10  # patience refilled too
    assert [guard.check() for _ in range(8)].count(Verdict.REJECT) == 3


def test_typing_speed_is_never_limited_with_the_default_settings() -> None:
    clock = Clock()
    guard = FloodGuard(rate_per_s=50, burst=100, close_after=50, clock=clock)
    for _ in range(10_000):  # 25 keystrokes a second, for 400 seconds
        clock.now += 0.04
        assert guard.check() is Verdict.ALLOW
