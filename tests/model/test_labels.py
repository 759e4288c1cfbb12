import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.labels import LabelIndex, LabelTable, heavy_prefixes, popularity_rank
from autocomplete.ranking import ANONYMOUS

QUERIES = (
    ["google"] * 5
    + ["gmail"] * 3
    + ["goo"] * 3
    + ["new york", "new york times", "newark"] * 2
    + ["new york times", "zebra", "a b", "a"]
)


def _index(tmp_path, queries=QUERIES, threshold=2, k=10) -> LabelIndex:
    w = IndexWriter(tmp_path / "idx")
    LabelTable.from_queries(queries).save(w, heavy_threshold=threshold, heavy_k=k)
    w.commit(model="mpc", label_count=0, build_params={})
    return LabelIndex.load(IndexFiles(tmp_path / "idx"))


def test_labels_are_sorted_and_min_count_filters():
    t = LabelTable.from_queries(QUERIES, min_count=3)
    assert t.texts == ["gmail", "goo", "google", "new york times"]
    assert t.counts.tolist() == [3, 3, 5, 3]


def test_popularity_rank_breaks_ties_by_label_id():
    assert popularity_rank(np.array([3, 5, 3, 1])).tolist() == [1, 0, 2, 3]


def test_heavy_prefixes_are_exactly_those_with_many_labels():
    texts = sorted(set(QUERIES))
    got = {p: (lo, hi) for p, lo, hi in heavy_prefixes(texts, 2)}
    for p, (lo, hi) in got.items():
        assert texts[lo:hi] == [t for t in texts if t.startswith(p)]
        assert hi - lo > 2
    assert set(got) == {"", "g", "n", "ne", "new"}


def test_range_and_text_and_id_round_trip(tmp_path):
    li = _index(tmp_path)
    lo, hi = li.range("new")
    assert [li.text(i) for i in range(lo, hi)] == ["new york", "new york times", "newark"]
    assert li.range("new ") == (lo, lo + 2)
    lo_q, hi_q = li.range("q")
    assert lo_q == hi_q
    assert li.id_of("newark") == lo + 2 and li.id_of("nope") == -1


def test_top_popular_matches_brute_force_for_heavy_and_light_prefixes(tmp_path):
    li = _index(tmp_path)
    texts = [li.text(i) for i in range(len(li))]
    for p in ["", "g", "go", "goo", "new", "new ", "a", "z", "x"]:
        cand = [t for t in texts if t.startswith(p)]
        cand.sort(key=lambda t: (-li.counts[li.id_of(t)], t))
        assert [li.text(i) for i in li.top_popular(p, 3)] == cand[:3], p


@settings(max_examples=50, deadline=None)
@given(
    asks=st.lists(st.tuples(st.sampled_from(["", "g", "go", "new", "n", "x"]), st.integers(1, 40)))
)
def test_remembered_answers_equal_fresh_ones_whatever_was_asked_before(tmp_path_factory, asks):
    """The table remembers each prefix's range and top labels; a later, larger or smaller k
    gets exactly what a table that never answered before would give."""
    path = tmp_path_factory.getbasetemp() / "memo"
    if not path.exists():
        _index(path)
    used = LabelIndex.load(IndexFiles(path / "idx"))
    for prefix, k in asks:
        fresh = LabelIndex.load(IndexFiles(path / "idx"))
        assert used.range(prefix) == fresh.range(prefix)
        assert used.top_popular(prefix, k).tolist() == fresh.top_popular(prefix, k).tolist()
        assert not used.top_popular(prefix, k).flags.writeable, "shared answers are read-only"


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(alphabet="abgmnoelrwyk t", max_size=6))
def test_every_popular_completion_extends_the_prefix(tmp_path_factory, prefix):
    li = _cached(tmp_path_factory)
    ids = li.top_popular(prefix, 10)
    assert all(li.text(i).startswith(prefix) for i in ids)
    assert len(ids) == min(10, sum(1 for i in range(len(li)) if li.text(i).startswith(prefix)))


_CACHE: dict[str, LabelIndex] = {}


def _cached(factory) -> LabelIndex:
    if "li" not in _CACHE:
        _CACHE["li"] = _index(factory.mktemp("hyp"))
    return _CACHE["li"]


def test_mpc_on_real_sample_never_returns_non_extensions(mpc_index_dir):
    from autocomplete.loader import load_index

    idx = load_index(mpc_index_dir)
    for p in ["g", "go", "www.", "new ", "new y", "a", "zz", "the "]:
        items = idx.ranker.complete(ANONYMOUS, p, 10)
        assert all(c.text.startswith(p) for c in items)
        assert [c.score for c in items] == sorted((c.score for c in items), reverse=True)
        lo, hi = idx.labels.range(p)
        assert len(items) == min(10, hi - lo)


@pytest.mark.parametrize("k", [0, -1])
def test_mpc_with_nonpositive_k_returns_nothing(mpc_index_dir, k):
    from autocomplete.loader import load_index

    assert load_index(mpc_index_dir).ranker.complete(ANONYMOUS, "g", k) == []


LONG = ["a" * 30 + s for s in ("", "b", "bc", "c", "é", "日本")] + [
    "a" * 23,
    "a" * 24,
    "a" * 25,
    "é" * 13,
    "é" * 12 + "x",
    "日本語 テキスト",
    "b",
]


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.one_of(
        st.sampled_from([t[:i] for t in LONG for i in range(len(t) + 1)]),
        st.text(alphabet="abcé日本", max_size=40),
    )
)
def test_range_matches_brute_force_for_long_and_non_ascii_prefixes(tmp_path_factory, prefix):
    if "long" not in _CACHE:
        _CACHE["long"] = _index(tmp_path_factory.mktemp("long"), LONG)
    li = _CACHE["long"]
    lo, hi = li.range(prefix)
    texts = [li.text(i) for i in range(len(li))]
    assert texts == sorted(texts)
    want = [i for i, t in enumerate(texts) if t.startswith(prefix)]
    assert list(range(lo, hi)) == want
