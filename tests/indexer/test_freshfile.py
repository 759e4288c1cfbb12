"""Fresh-count files: the format export-fresh writes, and how build-index folds it in."""

import hashlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autocomplete.model.labels import LabelTable
from indexer.errors import FreshFormatError
from indexer.freshfile import (
    MAGIC,
    fold_files,
    format_fresh,
    label_counts,
    parse_fresh,
    read_fresh_file,
)

T = 1_764_087_701.0  # 2025-11-25T16:21:41Z
HEADER = f"{MAGIC} 1 exported=2025-11-25T16:21:41Z half_life_s=21600"


def test_format_then_parse_round_trips_most_counted_first():
    text = format_fresh([("weather", 1.25), ("Storm  Prediction Center", 3.5)], T, 21600)
    assert text.splitlines()[0] == HEADER
    exported, half_life, rows = parse_fresh(text)
    assert exported == "2025-11-25T16:21:41Z" and half_life == 21600
    assert rows == [("storm prediction center", 3.5), ("weather", 1.25)]


def test_format_sums_queries_that_normalise_alike_and_drops_empty_ones():
    text = format_fresh([("New York", 1.0), ("new  york ", 0.5), ("-", 9.0), ("x", 0.0)], T, 60)
    assert parse_fresh(text)[2] == [("new york", 1.5)]


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=20),
            st.floats(min_value=1e-9, max_value=1e9, allow_nan=False),
        ),
        max_size=20,
    )
)
def test_any_export_parses_back(rows):
    parsed = parse_fresh(format_fresh(rows, T, 3600))[2]
    assert all("\t" not in q and "\n" not in q and c > 0 for q, c in parsed)


def test_decayed_counts_round_up_to_at_least_one():
    assert label_counts([("a", 0.01), ("b", 2.0), ("c", 2.3), ("A", 0.5)]) == {
        "a": 1,  # 0.01 + 0.5, both "a" once normalised
        "b": 2,
        "c": 3,
    }


def test_files_are_added_together(tmp_path):
    one, two = tmp_path / "one.tsv", tmp_path / "two.tsv"
    one.write_text(format_fresh([("a", 1.5), ("b", 0.2)], T, 60))
    two.write_text(format_fresh([("a", 0.2)], T, 60))
    assert fold_files([read_fresh_file(one), read_fresh_file(two)]) == {"a": 3, "b": 1}


def test_folded_counts_make_new_labels_and_pass_through_min_count():
    log = ["google", "google", "gmail"]
    table = LabelTable.from_queries(log, min_count=2, extra={"gmail": 1, "fresh one": 2, "x": 1})
    assert table.texts == ["fresh one", "gmail", "google"]
    assert table.counts.tolist() == [2, 2, 2]


def test_summary_names_the_file_its_digest_and_rows(tmp_path):
    path = tmp_path / "fresh.tsv"
    path.write_text(format_fresh([("a", 1.0), ("b", 2.0)], T, 60))
    f = read_fresh_file(path)
    assert f.summary() == {
        "file": "fresh.tsv",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows": 2,
        "exported": "2025-11-25T16:21:41Z",
    }


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("query\tcount\nfoo\t1\n", "line 1: not a fresh-counts file"),
        (f"{MAGIC} 2 exported=2025-11-25T16:21:41Z\n", "version '2'"),
        (f"{MAGIC} 1\nfoo\t1\n", "exported=<ISO time>"),
        (f"{HEADER}\nfoo\n", "line 2: expected query<TAB>count, got 1 field"),
        (f"{HEADER}\nfoo\t1\t2\n", "line 2: expected query<TAB>count, got 3 field"),
        (f"{HEADER}\nok\t1\nfoo\tmany\n", "line 3: count must be a number > 0, got 'many'"),
        (f"{HEADER}\nfoo\t-1\n", "line 2: count must be a number > 0"),
        (f"{HEADER}\nfoo\tnan\n", "line 2: count must be a number > 0"),
        (f"{HEADER}\nfoo\t0\n", "line 2: count must be a number > 0"),
        (f"{HEADER}\n \t1\n", "line 2: empty query"),
    ],
)
def test_malformed_files_name_the_line(tmp_path, body, needle):
    path = tmp_path / "bad.tsv"
    path.write_text(body)
    with pytest.raises(FreshFormatError, match="bad.tsv") as info:
        read_fresh_file(path)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_missing_and_binary_files_are_format_errors(tmp_path):
    with pytest.raises(FreshFormatError, match="no such file"):
        read_fresh_file(tmp_path / "absent.tsv")
    gz = tmp_path / "fresh.tsv.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(FreshFormatError, match="not UTF-8"):
        read_fresh_file(gz)


def test_counts_print_compactly_but_never_as_zero():
    text = format_fresh([("rare", 1e-12)], T, 60)
    ((_, count),) = parse_fresh(text)[2]
    assert count > 0 and math.isclose(count, 1e-12)
