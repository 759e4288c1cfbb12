"""The pure parts of bench/typo.py: which log pairs count as a misspelling and its fix."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from indexer.sessions import Session

_PATH = Path(__file__).resolve().parents[2] / "bench" / "typo.py"
_spec = importlib.util.spec_from_file_location("bench_typo", _PATH)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


def test_osa_distance_counts_a_swap_as_one_edit():
    assert bench.osa_distance("googel", "google") == 1
    assert bench.osa_distance("camoflauge", "camouflage") == 2
    assert bench.osa_distance("abc", "xyzabc") == 3  # capped


def test_misspellings_are_queries_the_next_query_corrects():
    s = Session("u", ("googel maps", "google maps", "google maps directions", "ebay"), (0, 1, 2, 3))
    found = [(j, good) for _, j, good in bench.misspellings([s])]
    assert found == [(0, "google maps")]  # an extension is no correction; "ebay" is far away


def test_correction_examples_start_at_the_first_wrong_character():
    s = Session("u", ("weather", "googel maps", "google maps"), (0, 1, 2))
    exs = list(bench.correction_examples([s]))
    assert [e.prefix for e in exs] == [
        "googe", "googel", "googel ", "googel m", "googel ma", "googel map", "googel maps"
    ]  # fmt: skip
    assert all(e.target == "google maps" and e.context == ("weather",) for e in exs)
