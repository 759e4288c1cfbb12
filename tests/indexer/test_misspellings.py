"""Which log pairs count as a misspelling and its fix (what the speller is measured on)."""

from __future__ import annotations

from indexer.misspellings import correction_examples, misspellings, osa_distance
from indexer.sessions import Session


def test_osa_distance_counts_a_swap_as_one_edit():
    assert osa_distance("googel", "google") == 1
    assert osa_distance("camoflauge", "camouflage") == 2
    assert osa_distance("abc", "xyzabc") == 3  # capped


def test_misspellings_are_queries_the_next_query_corrects():
    s = Session("u", ("googel maps", "google maps", "google maps directions", "ebay"), (0, 1, 2, 3))
    found = [(j, good) for _, j, good in misspellings([s])]
    assert found == [(0, "google maps")]  # an extension is no correction; "ebay" is far away


def test_correction_examples_start_at_the_first_wrong_character():
    s = Session("u", ("weather", "googel maps", "google maps"), (0, 1, 2))
    exs = list(correction_examples([s]))
    assert [e.prefix for e in exs] == [
        "googe", "googel", "googel ", "googel m", "googel ma", "googel map", "googel maps"
    ]  # fmt: skip
    assert all(e.target == "google maps" and e.context == ("weather",) for e in exs)
