"""`PrefixHistory`: a user's history searched by bisection finds exactly what a scan finds."""

from hypothesis import given
from hypothesis import strategies as st

from autocomplete.history import served
from autocomplete.ranking import Context, PrefixHistory, extending
from indexer.sessions import Example
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


def test_served_keystrokes_share_one_view_per_history_as_a_connection_does():
    first = (HistoryEntry("amazon", 2, 1.0),)
    second = (HistoryEntry("ebay", 1, 2.0), *first)
    stream = [
        (Example("", p, "amazon"), Context((), history, 3.0))
        for p, history in [("a", first), ("am", first), ("e", second), ("eb", second)]
    ]
    got = [ctx for _, ctx in served(stream)]
    assert all(isinstance(c.history, PrefixHistory) for c in got)
    assert got[0].history is got[1].history and got[2].history is got[3].history
    assert got[1].history is not got[2].history  # a new view when the history changes
    assert [c.history for c in got] == [first, first, second, second]
    assert [(c.previous, c.now) for c in got] == [((), 3.0)] * 4
