"""When a part's queries were issued, as the manifest records it and an evaluation reads it."""

from __future__ import annotations

import math
from datetime import date

from indexer.periods import Period, period
from indexer.sessions import Session, TimeSplit

DAY = 86400.0
MAY_1 = 1146441600.0  # 2006-05-01T00:00:00Z


def test_a_period_spans_every_query_of_its_sessions_and_round_trips() -> None:
    sessions = [Session("u", ("a", "b"), (MAY_1 + 5, MAY_1 + 9)), Session("v", ("c",), (MAY_1,))]
    p = Period.of(sessions)
    assert p == Period(MAY_1, MAY_1 + 9)
    assert period(sessions) == {"first": "2006-05-01T00:00:00Z", "last": "2006-05-01T00:00:09Z"}
    assert Period.from_json(period(sessions)) == p
    assert Period.of([]) is None and period([]) is None and Period.from_json(None) is None


def test_periods_overlap_when_they_share_a_second() -> None:
    a = Period(MAY_1, MAY_1 + DAY)
    assert a.overlaps(Period(MAY_1 + DAY, MAY_1 + 2 * DAY))
    assert not a.overlaps(Period(MAY_1 + DAY + 1, MAY_1 + 2 * DAY))


def test_the_parts_of_a_split_are_open_at_the_ends() -> None:
    split = TimeSplit(date(2006, 5, 1), date(2006, 5, 9))
    train, dev = Period.of_part(split, "train"), Period.of_part(split, "dev")
    test = Period.of_part(split, "test")
    assert (train.first, train.last) == (-math.inf, MAY_1 - 1)
    assert (dev.first, test.first, test.last) == (MAY_1, MAY_1 + 8 * DAY, math.inf)
    assert not train.overlaps(dev) and not dev.overlaps(test)
    assert str(train) == "any time up to 2006-04-30" and str(test) == "2006-05-09 on"
    assert str(Period.of_part(split, "all")) == "any time"
