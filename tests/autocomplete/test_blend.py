import numpy as np
import pytest

from autocomplete.blend import MODES, BlendRanker, BlendWeights
from autocomplete.candidates import FEATURES, F
from autocomplete.loader import load_index
from autocomplete.personal import PersonalHistory, examples_with_history
from autocomplete.tuning import TuneParams, _Data, fit_bucket
from indexer.sessions import Session


@pytest.fixture(scope="module")
def blend(blend_index_dir):
    idx = load_index(blend_index_dir)
    assert isinstance(idx.ranker, BlendRanker)
    return idx.ranker


@pytest.mark.parametrize("prefix", ["g", "go", "new ", "new y", "www.", "zzzzzz", "the be"])
def test_results_extend_the_prefix_without_duplicates_best_first(blend, prefix):
    items = blend.complete(("ebay",), prefix, 10)
    texts = [c.text for c in items]
    assert len(items) <= 10 and len(set(texts)) == len(texts)
    assert all(t.startswith(prefix) for t in texts)
    scores = [c.score for c in items]
    assert scores == sorted(scores, reverse=True) and sum(scores) <= 1.0 + 1e-9
    assert {c.source for c in items} <= {"index", "generated", "history"}


def test_previous_query_lifts_its_usual_successor(blend):
    def rank(ctx):
        texts = [c.text for c in blend.complete(ctx, "d", 10)]
        return texts.index("daddyhunt") if "daddyhunt" in texts else 99

    # in the sample's training sessions "silverdaddies" is followed by "daddyhunt" 17 times
    assert rank(("silverdaddies",)) < rank(())
    assert rank(("silverdaddies",)) == 0


def test_personal_history_puts_the_users_own_query_first(blend):
    hist = (("goodwill donation centers", 4, 1_000_000.0),)
    items = blend.complete((), "go", 10, history=hist, now=1_000_000.0 + 3600)
    assert items[0].text == "goodwill donation centers" and items[0].source == "history"
    assert (
        all(c.text != "goodwill donation centers" for c in blend.complete((), "go", 10))
        or blend.complete((), "go", 10)[0].text != "goodwill donation centers"
    )


def test_weights_are_stored_by_feature_name_so_unknown_names_are_ignored():
    w = BlendWeights.default()
    raw = {
        m: {b: {**row, "a_feature_from_the_future": 9.0} for b, row in w.weights[m].items()}
        for m in MODES
    }
    assert np.array_equal(BlendWeights(raw).matrix("personal"), w.matrix("personal"))
    assert BlendWeights({}).matrix("anonymous").shape == (6, len(FEATURES))


def test_listwise_fit_learns_which_feature_marks_the_chosen_candidate():
    rng = np.random.default_rng(0)
    xs, targets = [], []
    for _ in range(400):
        x = rng.normal(size=(12, len(FEATURES)))
        xs.append(x)
        targets.append(int(np.argmax(2.0 * x[:, F["label_logp"]] - 1.0 * x[:, F["extra_chars"]])))
    w = fit_bucket(_Data(xs, targets), TuneParams(l2=1e-4), np.zeros(len(FEATURES)))
    assert w[F["label_logp"]] > 1.0 and w[F["extra_chars"]] < -0.5
    others = np.delete(np.abs(w), [F["label_logp"], F["extra_chars"]])
    assert others.max() < 0.5 * w[F["label_logp"]]


def test_personal_history_keeps_the_most_recent_distinct_queries():
    h = PersonalHistory(size=2)
    for q, t in [("a", 1), ("b", 2), ("a", 3), ("c", 4)]:
        h.record(q, t)
    assert h.snapshot() == (("a", 2, 3), ("c", 1, 4))


def test_history_replay_shows_only_the_past_at_each_keystroke():
    past = [Session("u", ("ab", "cd"), (1.0, 2.0)), Session("v", ("xy",), (1.0,))]
    test = [Session("u", ("ab", "ef"), (10.0, 11.0))]
    got = [(ex.prefix, {q: c for q, c, _ in h}) for ex, h in examples_with_history(past, test)]
    assert got == [("a", {"ab": 1, "cd": 1}), ("e", {"ab": 2, "cd": 1})]
