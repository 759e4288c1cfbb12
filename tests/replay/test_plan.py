"""Which keystrokes a replay types: exactly those `autocomplete evaluate` scores."""

from __future__ import annotations

import re

import pytest

from autocomplete.replay.plan import check_run_id, new_run_id, plan_sessions
from indexer.dataset import load_split
from indexer.sessions import Session, examples


def test_keystrokes_are_the_evaluators_examples_in_order(sample_log):
    sessions = load_split([sample_log]).test[:40]
    plans = plan_sessions(sessions, "run")
    typed = [(ex.prefix, ex.target) for p in plans for q in p.queries for ex in q.keystrokes]
    assert typed == [(ex.prefix, ex.target) for ex in examples(sessions)]


def test_every_query_is_submitted_even_one_character_ones():
    s = Session("u", ("a", "ab "), (0.0, 1.0))
    (plan,) = plan_sessions([s], "run")
    assert [q.query for q in plan.queries] == ["a", "ab "]
    assert [[ex.prefix for ex in q.keystrokes] for q in plan.queries] == [[], ["a", "ab"]]
    assert plan.keystrokes == 2


def test_sessions_n_takes_the_first_n_in_log_order():
    sessions = [Session(str(i), (f"q{i}",), (float(i),)) for i in range(5)]
    plans = plan_sessions(sessions, "run", limit=3)
    assert [(p.index, p.user) for p in plans] == [(0, "0"), (1, "1"), (2, "2")]
    assert plan_sessions(sessions, "run", limit=10) == plan_sessions(sessions, "run")


def test_session_labels_are_distinct_and_plain():
    sessions = [Session("u", ("q",), (0.0,))] * 3
    ids = [p.session_id for p in plan_sessions(sessions, new_run_id())]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i) for i in ids)


def test_new_run_ids_differ_so_runs_never_share_context():
    assert new_run_id() != new_run_id()


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "x" * 49])
def test_a_bad_session_prefix_is_refused(bad):
    with pytest.raises(ValueError, match="session prefix"):
        check_run_id(bad)


def test_negative_session_count_is_refused():
    with pytest.raises(ValueError, match="--sessions"):
        plan_sessions([], "run", limit=-1)
