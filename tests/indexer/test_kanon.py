"""What strangers may see: contribution bounds and the K-distinct-users rule, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autocomplete.model.labels import transition_key
from indexer.counts import TrainCounts, users_per_key
from indexer.kanon import (
    KAnonParams,
    Pair,
    bound_contributions,
    shared_counts,
    shared_texts,
)
from indexer.params import BuildParams

DAY = 86400.0
T0 = 1_141_207_200.0  # 2006-03-01 10:00 UTC


def ev(user: str, q: str, t: float = T0, prev: str = "") -> Pair:
    return (prev, q, user, t)


def test_a_query_counts_once_per_user_per_day_by_default() -> None:
    pairs = [ev("u1", "weather", T0 + i * 60) for i in range(5)]
    assert bound_contributions(pairs, KAnonParams()) == pairs[:1]


def test_the_same_query_counts_again_on_another_day() -> None:
    pairs = [ev("u1", "weather", T0), ev("u1", "weather", T0 + 60), ev("u1", "weather", T0 + DAY)]
    assert bound_contributions(pairs, KAnonParams()) == [pairs[0], pairs[2]]


def test_max_repeats_per_day_allows_that_many_events_of_a_query() -> None:
    pairs = [ev("u1", "weather", T0 + i) for i in range(5)]
    assert len(bound_contributions(pairs, KAnonParams(max_repeats_per_day=3))) == 3


def test_a_user_contributes_at_most_max_queries_per_day_distinct_queries_the_first_ones() -> None:
    pairs = [ev("u1", f"q{i}", T0 + i) for i in range(6)] + [ev("u1", "q0", T0 + 10)]
    kept = bound_contributions(pairs, KAnonParams(max_queries_per_day=3, max_repeats_per_day=0))
    assert [q for _, q, _, _ in kept] == ["q0", "q1", "q2", "q0"]


def test_bounds_are_per_user() -> None:
    pairs = [ev("u1", "weather"), ev("u2", "weather"), ev("u1", "weather", T0 + 5)]
    assert bound_contributions(pairs, KAnonParams()) == pairs[:2]


def test_zero_bounds_keep_every_pair() -> None:
    pairs = [ev("u1", "weather", T0 + i) for i in range(50)]
    assert bound_contributions(pairs, KAnonParams.off()) == pairs


def test_users_per_key_counts_distinct_users_not_occurrences() -> None:
    c = users_per_key([("a", "u1"), ("a", "u1"), ("a", "u2"), ("b", "u1")])
    assert c == {"a": 2, "b": 1}


def test_a_query_one_user_issued_many_times_is_not_shared_at_k2() -> None:
    pairs = [ev("u1", "my secret", T0 + i * DAY) for i in range(10)] + [
        ev("u1", "weather"),
        ev("u2", "weather"),
    ]
    shared = shared_texts(pairs, 2)
    assert not shared.shows_query("my secret")
    assert shared.shows_query("weather")


def test_endings_and_transitions_need_k_distinct_users_too() -> None:
    pairs = [
        ev("u1", "jane doe lawyer"),
        ev("u2", "divorce lawyer"),
        ev("u1", "weather", T0 + 60, prev="jane doe lawyer"),
        ev("u3", "news"),
        ev("u3", "weather", T0 + 60, prev="news"),
        ev("u4", "news"),
        ev("u4", "weather", T0 + 60, prev="news"),
    ]
    shared = shared_texts(pairs, 2)
    assert shared.endings is not None and shared.transitions is not None
    assert "lawyer" in shared.endings  # two users' queries end with it
    assert "doe lawyer" not in shared.endings  # one user's
    assert transition_key("news", "weather") in shared.transitions
    assert transition_key("jane doe lawyer", "weather") not in shared.transitions
    assert shared.distinct == {
        "queries": 4,
        "endings": 2,
        "transitions": 2,
        "words": 8,  # 6 words, the start and the end
        "bigrams": 10,
    }


def test_the_word_model_keeps_only_words_and_bigrams_k_users_typed() -> None:
    pairs = [
        ev("u1", "jane doe lawyer"),
        ev("u1", "jane doe lawyer", T0 + DAY),
        ev("u2", "divorce lawyer"),
        ev("u3", "divorce lawyer"),
    ]
    shared = shared_counts(TrainCounts.of(len(pairs), pairs), 2)
    assert "jane" not in shared.words and "doe lawyer" not in shared.bigrams  # one user
    assert shared.words["lawyer"] == 4 and shared.bigrams["divorce lawyer"] == 2
    assert "jane doe" in shared_counts(TrainCounts.of(len(pairs), pairs), 1).bigrams


def test_hiding_a_transition_keeps_the_query_and_forgets_what_came_before() -> None:
    pairs = [
        ev("u1", "weather", T0, prev="jane doe"),
        ev("u2", "weather", T0, prev="news"),
        ev("u3", "weather", T0, prev="news"),
        ev("u3", "news", T0),
    ]
    hidden = shared_texts(pairs, 2).hide_transitions(pairs)
    assert hidden == [("", "weather", "u1", T0), *pairs[1:]]


def test_at_k1_everything_is_shown_and_nothing_is_hidden() -> None:
    pairs = [ev("u1", "my secret", prev="jane doe"), ev("u1", "a b c")]
    shared = shared_texts(pairs, 1)
    assert shared.queries is shared.endings is shared.transitions is None
    assert shared.shows_query("my secret") and shared.hide_transitions(pairs) == pairs
    assert shared.shown_counts({"fresh only": 3}) == {"fresh only": 3}


def test_fresh_counts_only_add_to_shared_queries_at_k2() -> None:
    shared = shared_texts([ev("u1", "weather"), ev("u2", "weather")], 2)
    assert shared.shown_counts({"weather": 2, "fresh only": 9}) == {"weather": 2}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2", "u3"]),
            st.sampled_from(["a", "b c", "d e f", "b"]),
            st.integers(0, 3 * 86400),
        ),
        max_size=40,
    ),
    st.integers(1, 4),
)
def test_every_shown_query_has_k_users_among_the_bounded_pairs(rows, k) -> None:
    pairs = [ev(u, q, T0 + t) for u, q, t in sorted(rows, key=lambda r: (r[0], r[2]))]
    bounded = bound_contributions(pairs, KAnonParams(min_users=k))
    shared = shared_texts(bounded, k)
    users = users_per_key((q, u) for _, q, u, _ in bounded)
    for q in users:
        assert shared.shows_query(q) == (users[q] >= k)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_users": 0}, {"min_users": -1}, {"max_repeats_per_day": -1}, {"max_queries_per_day": -2}],
)
def test_params_out_of_range_are_refused(kwargs) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        KAnonParams(**kwargs)


def test_build_params_default_to_k2_and_round_trip_through_the_manifest() -> None:
    b = BuildParams(kanon=KAnonParams(min_users=5, max_queries_per_day=7))
    assert BuildParams().kanon.min_users == 2
    assert BuildParams.from_json(b.to_json()) == b


def test_a_manifest_from_before_k_anonymity_reads_as_no_filtering() -> None:
    old = BuildParams().to_json()
    del old["kanon"]
    assert BuildParams.from_json(old).kanon == KAnonParams.off()
