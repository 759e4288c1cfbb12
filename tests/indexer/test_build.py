"""build-index and k-anonymity: what an index shows strangers, what its manifest says, and
that K = 1 without bounds is the index of a build that shares every training query."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from autocomplete.model.analyzer import START_TOKEN
from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.labels import (
    ENDINGS,
    SEP,
    TRANSITIONS,
    LabelIndex,
    LabelTable,
    transition_key,
)
from indexer.build import build_index
from indexer.counts import users_per_key
from indexer.dataset import load_split
from indexer.freshfile import FreshFile, format_fresh, read_fresh_file
from indexer.kanon import KAnonParams
from indexer.params import BuildParams
from indexer.sessions import pairs
from indexer.tables import endings_table, transitions_table, word_endings
from tests.conftest import SMALL

Row = tuple[str, str, str]  # user, query, "YYYY-MM-DD HH:MM:SS"


def write_log(path: Path, rows: list[Row]) -> Path:
    """An AOL-format log; rows are sorted by user, then time, as AOL's are."""
    lines = ["AnonID\tQuery\tQueryTime\tItemRank\tClickURL"]
    lines += [f"{u}\t{q}\t{t}\t\t" for u, q, t in sorted(rows, key=lambda r: (r[0], r[2]))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build(
    tmp_path: Path, rows: list[Row], kanon: KAnonParams, fresh: Sequence[FreshFile] = ()
) -> IndexFiles:
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = write_log(tmp_path / "log.tsv", rows)
    out = tmp_path / "idx"
    build_index([log], out, BuildParams(model="mpc", kanon=kanon), fresh=fresh)
    return IndexFiles(out)


def table(files: IndexFiles, name: str = "labels") -> dict[str, int]:
    t = LabelIndex.load(files, name)
    return {t.text(i): int(t.counts[i]) for i in range(len(t))}


def day(d: int, minute: int = 0) -> str:
    return f"2006-03-{d:02d} 10:{minute:02d}:00"


def test_a_query_one_user_issued_many_times_is_not_a_label_at_k2(tmp_path: Path) -> None:
    rows = [("1", "my secret diagnosis", day(d)) for d in range(1, 11)]
    rows += [("1", "weather", day(1, 5)), ("2", "weather", day(1, 5))]
    assert table(build(tmp_path, rows, KAnonParams(min_users=2))) == {"weather": 2}


def test_a_query_two_distinct_users_issued_is_a_label_at_k2_and_not_at_k3(
    tmp_path: Path,
) -> None:
    rows = [("1", "weather", day(1)), ("2", "weather", day(2)), ("3", "news", day(3))]
    rows += [("1", "news", day(4)), ("2", "news", day(4)), ("3", "news", day(5))]
    assert table(build(tmp_path / "k2", rows, KAnonParams(min_users=2))) == {
        "news": 4,
        "weather": 2,
    }
    assert table(build(tmp_path / "k3", rows, KAnonParams(min_users=3))) == {"news": 4}


def test_per_user_day_bounds_cap_one_users_count(tmp_path: Path) -> None:
    # user 1 issues "weather" five times on one day (between other queries, so each is a new
    # query event) and once the next day; user 2 once
    rows = [("1", "weather" if m % 2 == 0 else f"other {m}", day(1, m)) for m in range(10)]
    rows += [("1", "weather", day(2)), ("2", "weather", day(1))]
    assert table(build(tmp_path / "bounded", rows, KAnonParams()))["weather"] == 3
    assert table(build(tmp_path / "off", rows, KAnonParams.off()))["weather"] == 7


def test_a_users_queries_beyond_the_daily_bound_count_for_nothing(tmp_path: Path) -> None:
    rows = [(u, f"query {m}", day(1, m)) for u in ("1", "2") for m in range(5)]
    kanon = KAnonParams(min_users=2, max_queries_per_day=3)
    assert sorted(table(build(tmp_path, rows, kanon))) == ["query 0", "query 1", "query 2"]


def test_transitions_and_endings_obey_the_same_rule(tmp_path: Path) -> None:
    rows = [
        ("1", "news", day(1, 0)),
        ("1", "weather boston", day(1, 1)),
        ("2", "news", day(1, 0)),
        ("2", "weather boston", day(1, 1)),
        ("1", "jane doe lawyer", day(2, 0)),
        ("1", "weather boston", day(2, 1)),
        ("3", "divorce lawyer", day(3, 0)),
    ]
    files = build(tmp_path, rows, KAnonParams(min_users=2))
    assert table(files, "transitions") == {transition_key("news", "weather boston"): 2}
    endings = table(files, "endings")
    assert endings == {"boston": 3, "lawyer": 2}  # not "doe lawyer": one user's
    assert table(files) == {"news": 2, "weather boston": 3}


def test_manifest_records_k_the_bounds_and_what_was_kept(tmp_path: Path) -> None:
    rows = [("1", "weather", day(1)), ("1", "news", day(1, 2)), ("1", "weather", day(1, 5))]
    rows += [("2", "weather", day(1)), ("1", "my secret", day(2))]
    kanon = KAnonParams(min_users=2, max_repeats_per_day=1, max_queries_per_day=9)
    m = build(tmp_path, rows, kanon).manifest
    assert m["build_params"]["kanon"] == {
        "min_users": 2,
        "max_repeats_per_day": 1,
        "max_queries_per_day": 9,
    }
    s = m["stats"]["kanon"]
    assert s["min_users"] == 2 and s["logged_queries"] == 5 and s["counted_queries"] == 4
    assert (s["labels_kept"], s["labels_dropped"]) == (1, 2)
    assert s["train_label_coverage"] == pytest.approx(2 / 4)


def test_no_query_with_k_users_is_a_clear_error(tmp_path: Path) -> None:
    from indexer.errors import LogFormatError

    with pytest.raises(LogFormatError, match="--min-users"):
        build(tmp_path, [("1", "weather", day(1))], KAnonParams(min_users=2))


def test_fresh_counts_add_to_shared_labels_but_make_none_at_k2(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.tsv"
    fresh.write_text(format_fresh([("weather", 3.0), ("fresh only query", 5.0)], 0.0, 60.0))
    rows = [("1", "weather", day(1)), ("2", "weather", day(1))]
    files = build(tmp_path, rows, KAnonParams(min_users=2), fresh=[read_fresh_file(fresh)])
    assert table(files) == {"weather": 5}
    assert files.manifest["stats"]["fresh"]["new_labels"] == 0


# -- the bundled sample ---------------------------------------------------------------------


def test_k1_without_bounds_reproduces_the_index_of_every_training_query(
    tmp_path: Path, sample_log: Path
) -> None:
    """The build before k-anonymity, re-enacted from its parts: labels, endings,
    transitions and the word model of every training pair, the xmr model trained on all of
    them. Same files."""
    from autocomplete.model.wordlm import WordLM
    from autocomplete.model.wordlm import count as lm_count
    from indexer.xmr.build import build_xmr

    params = BuildParams(model="xmr", xmr=SMALL, kanon=KAnonParams.off())
    data = load_split([sample_log])
    build_index([sample_log], tmp_path / "k1", params, data=data)

    raw = list(pairs(data.train))
    w = IndexWriter(tmp_path / "reference")
    labels = LabelTable.from_queries(q for _, q, _, _ in raw)
    heavy = {"heavy_threshold": params.heavy_threshold, "heavy_k": params.heavy_k}
    labels.save(w, **heavy)
    endings_table(Counter(q for _, q, _, _ in raw)).save(w, name=ENDINGS, **heavy)
    transitions_table((p, q) for p, q, _, _ in raw).save(w, name=TRANSITIONS, **heavy)
    WordLM.of_counts(*lm_count(Counter(q for _, q, _, _ in raw).items())).save(w, labels.texts)
    build_xmr(w, labels, raw, params.xmr, lambda _m: None)
    w.commit(model="xmr", label_count=len(labels.texts), build_params={})

    got = IndexFiles(tmp_path / "k1").manifest["files"]
    want = IndexFiles(tmp_path / "reference").manifest["files"]
    assert got == want


def test_no_sample_index_file_holds_text_fewer_than_k_users_typed(
    tmp_path: Path, sample_log: Path
) -> None:
    """Every label, ending and transition, and every word of the xmr vocabulary, of a K=2
    index of the sample was typed by at least 2 distinct users of its training part."""
    data = load_split([sample_log])
    build_index([sample_log], tmp_path / "k2", BuildParams(model="xmr", xmr=SMALL), data=data)
    files = IndexFiles(tmp_path / "k2")
    raw = list(pairs(data.train))
    typed = {(q, u) for _, q, u, _ in raw}
    by_query = users_per_key(typed)
    by_ending = users_per_key((e, u) for q, u in typed for e in word_endings(q))
    by_pair = users_per_key((transition_key(p, q), u) for p, q, u, _ in raw if p)
    by_word = users_per_key((word, u) for q, u in typed for word in q.split())

    assert table(files) and all(by_query[q] >= 2 for q in table(files))
    assert table(files, "endings") and all(by_ending[e] >= 2 for e in table(files, "endings"))
    assert all(by_pair[t] >= 2 and SEP in t for t in table(files, "transitions"))
    words = [w for w in files.trie("xmr_words").keys() if w != START_TOKEN]
    assert words and all(by_word[w] >= 2 for w in words)
    labels = LabelIndex.load(files)
    prev, nxt = files.matrix("xmr_trans").nonzero()
    assert all(
        by_pair[transition_key(labels.text(a), labels.text(b))] >= 2
        for a, b in zip(prev.tolist(), nxt.tolist(), strict=True)
    )
    assert files.manifest["stats"]["kanon"]["labels_dropped"] > 10 * len(table(files))
