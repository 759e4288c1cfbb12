"""`PrefixHistory`: a user's history searched by bisection finds exactly what a scan finds."""

from hypothesis import given
from hypothesis import strategies as st

from autocomplete.ranking import Context, PrefixHistory, extending
from session_store.base import HistoryEntry

_queries = st.text(alphabet="abn é", min_size=1, max_size=6)


@given(
    entries=st.lists(
        st.tuples(_queries, st.integers(1, 3), st.integers(0, 3)),
        max_size=30,
        unique_by=lambda e: e[0],
    ),
    prefix=st.text(alphabet="abn é", max_size=3),
)
def test_the_entries_extending_a_prefix_are_the_scans_in_the_historys_order(entries, prefix):
    history = tuple(HistoryEntry(q, c, float(t)) for q, c, t in entries)
    indexed = PrefixHistory(history)
    want = [h for h in history if h.query.startswith(prefix)]
    assert indexed.extending(prefix) == want
    assert indexed.extending(prefix) == want  # the second time from the kept sorted view
    assert extending(history, prefix) == want
    assert indexed == history  # still the same tuple


def test_the_ranker_gathers_the_same_candidates_from_either_form(blend_index_dir):
    from autocomplete.loader import load_index

    ranker = load_index(blend_index_dir).ranker
    history = tuple(
        HistoryEntry(q, c, t)
        for q, c, t in [("gmail login", 2, 5.0), ("google maps", 1, 5.0), ("amazon", 3, 1.0)]
    )
    for prefix in ("g", "gm", "goo", "amazom", "x"):
        plain = ranker.gather(Context((), history, 10.0), prefix)
        fast = ranker.gather(Context((), PrefixHistory(history), 10.0), prefix)
        assert plain.texts == fast.texts and plain.corrected == fast.corrected
        assert (plain.matrix() == fast.matrix()).all()
