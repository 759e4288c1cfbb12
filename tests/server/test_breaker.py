"""The session-store breaker: skip a failing store, probe it once per cool-down, recover."""

from __future__ import annotations

import pytest

from autocomplete.server.breaker import Breaker, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_healthy_store_is_always_used() -> None:
    breaker = Breaker(1.0, Clock())
    for _ in range(5):
        assert breaker.allow()
        breaker.success()


def test_after_a_failure_callers_skip_the_store_until_the_cool_down_ends() -> None:
    clock = Clock()
    breaker = Breaker(1.0, clock)
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now = 0.999
    assert not breaker.allow()


def test_one_probe_at_a_time_after_the_cool_down() -> None:
    clock = Clock()
    breaker = Breaker(1.0, clock)
    breaker.failure()
    clock.now = 1.0
    assert breaker.allow()
    assert breaker.state is BreakerState.PROBING
    assert not breaker.allow(), "others keep skipping while the probe is out"


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = Clock()
    breaker = Breaker(1.0, clock)
    breaker.failure()
    clock.now = 1.0
    breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_starts_a_new_cool_down() -> None:
    clock = Clock()
    breaker = Breaker(1.0, clock)
    breaker.failure()
    clock.now = 1.0
    breaker.allow()
    breaker.failure()
    clock.now = 1.5
    assert not breaker.allow()
    clock.now = 2.0
    assert breaker.allow()


def test_an_abandoned_probe_lets_the_next_caller_probe() -> None:
    clock = Clock()
    breaker = Breaker(1.0, clock)
    breaker.failure()
    clock.now = 1.0
    assert breaker.allow()
    breaker.abandon()  # e.g. the connection closed while the probe was waiting
    assert breaker.allow(), "the probe slot is not lost"


def test_abandoning_a_call_of_a_healthy_store_changes_nothing() -> None:
    breaker = Breaker(1.0, Clock())
    assert breaker.allow()
    breaker.abandon()
    assert breaker.state is BreakerState.CLOSED


def test_cool_down_must_be_positive() -> None:
    with pytest.raises(ValueError, match="retry_after_s must be > 0"):
        Breaker(0)
