"""The candidate sources, on the blend over the MPC index and on the production default (the
blend over the XR-Linear model): every source is exercised through both."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocomplete.blend import BlendRanker
from autocomplete.candidates.generator import split_prefix
from autocomplete.candidates.schema import LOG_FLOOR, XMR_COLUMNS, F
from autocomplete.loader import load_index
from autocomplete.ranking import Context
from session_store.base import HistoryEntry


@pytest.fixture(scope="module", params=["mpc", "xmr"])
def blend(request):
    path = request.getfixturevalue("blend_index_dir" if request.param == "mpc" else "xmr_index_dir")
    ranker = load_index(path).ranker
    assert isinstance(ranker, BlendRanker) and (ranker.model is None) == (request.param == "mpc")
    return ranker


@pytest.fixture(scope="module")
def gen(blend):
    return blend.gen


def gather(blend, prefix, *previous, history=(), now=0.0):
    return blend.gather(Context(previous, tuple(HistoryEntry(*h) for h in history), now), prefix)


@pytest.mark.parametrize(
    ("prefix", "words", "partial"),
    [
        ("new york ti", ["new", "york"], "ti"),
        ("new ", ["new"], ""),
        ("n", [], "n"),
    ],
)
def test_split_prefix_separates_typed_words_from_the_partial_one(prefix, words, partial):
    assert split_prefix(prefix) == (words, partial)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(
        [
            "g",
            "go",
            "new ",
            "new y",
            "www.",
            "the be",
            "cheap fl",
            "how to m",
            "zq",
            "a",
            "bank of am",
            "pictures of ",
        ]
    ),
    ctx=st.sampled_from([(), ("mapquest",), ("ebay", "amazon")]),
)
def test_every_candidate_extends_the_prefix_and_repeats_no_word(blend, prefix, ctx):
    cs = gather(blend, prefix, *ctx)
    assert len(set(cs.texts)) == len(cs.texts)
    for t in cs.texts:
        assert t.startswith(prefix)
        gen_route = cs.matrix()[cs.texts.index(t)][F["gen_logp"]] > LOG_FLOOR
        if gen_route:
            assert len(set(t.split())) == len(t.split())


def test_generation_completes_the_partial_last_word_of_an_unseen_query(blend, gen):
    # "pictures of ki" is not a training query of the sample, but "ki..." endings are
    prefix = "pictures of ki"
    assert gen.labels.range(prefix)[0] == gen.labels.range(prefix)[1]
    cs = gather(blend, prefix)
    generated = [t for t, r in zip(cs.texts, cs.matrix(), strict=True) if r[F["bias_generated"]]]
    assert generated and all(t.startswith(prefix) for t in generated)


def test_a_generated_candidate_that_is_a_label_counts_as_the_label(blend, gen):
    cs = gather(blend, "new y")
    for t, r in zip(cs.texts, cs.matrix(), strict=True):
        assert r[F["bias_label"]] == (gen.labels.id_of(t) >= 0)
        assert r[F["bias_label"]] + r[F["bias_generated"]] == 1


def test_transition_from_the_previous_query_brings_its_successor(blend):
    # real sample session pattern: "silverdaddies" is followed by "daddyhunt" 17 times
    plain = gather(blend, "d")
    ctx = gather(blend, "d", "silverdaddies")
    assert "daddyhunt" in ctx.texts
    row = ctx.matrix()[ctx.texts.index("daddyhunt")]
    assert row[F["trans_logp"]] > np.log(0.05)
    if "daddyhunt" in plain.texts:
        assert plain.matrix()[plain.texts.index("daddyhunt")][F["trans_logp"]] == LOG_FLOOR


def test_history_entries_extending_the_prefix_join_with_their_counts(blend):
    hist = (("my own rare query", 3, 1000.0), ("other thing", 1, 1000.0))
    cs = gather(blend, "my o", history=hist, now=1000.0 + 86400 * 30)
    row = cs.matrix()[cs.texts.index("my own rare query")]
    assert row[F["hist_present"]] == 1 and row[F["hist_logcount"]] == pytest.approx(np.log(4))
    assert row[F["hist_recency"]] == pytest.approx(np.exp(-1))
    assert row[F["hist_age"]] == pytest.approx(np.log1p(30 * 24))  # hours since last used
    assert row[F["hist_logp"]] == 0.0  # the only history entry extending "my o"
    assert "other thing" not in cs.texts


def test_history_share_is_among_the_entries_extending_the_prefix(blend):
    hist = (("my own rare query", 3, 1000.0), ("my other query", 1, 1000.0), ("zzz", 9, 1.0))
    cs = gather(blend, "my o", history=hist, now=1000.0)
    x = cs.matrix()
    share = {
        t: x[cs.texts.index(t)][F["hist_logp"]] for t in ("my own rare query", "my other query")
    }
    assert share == pytest.approx(
        {"my own rare query": np.log(3 / 4), "my other query": np.log(1 / 4)}
    )
    assert x[cs.texts.index("my other query")][F["hist_age"]] == 0.0  # used just now


def test_history_rank_counts_the_entries_extending_the_prefix_used_more_recently(blend):
    hist = (
        ("my old query", 5, 100.0),
        ("zzz newest of all", 1, 900.0),  # does not extend the prefix: not counted
        ("my newest query", 1, 800.0),
        ("my middle query", 2, 500.0),
    )
    cs = gather(blend, "my ", history=hist, now=1000.0)
    x = cs.matrix()
    rank = {
        t: x[cs.texts.index(t)][F["hist_rank"]]
        for t in ("my newest query", "my middle query", "my old query")
    }
    assert rank == pytest.approx(
        {"my newest query": 0.0, "my middle query": np.log(2), "my old query": np.log(3)}
    )


def test_empty_prefix_gathers_nothing(blend):
    assert len(gather(blend, "", "ebay")) == 0


def test_the_sessions_latest_query_is_marked_and_older_ones_are_only_in_session(blend):
    # the log never repeats a query straight away, so the blend learns to push the latest
    # one down; older session queries come back often and stay plain session candidates
    cs = gather(blend, "my ", "my older query", "my latest query")
    x = cs.matrix()
    latest, older = x[cs.index("my latest query")], x[cs.index("my older query")]
    assert latest[F["is_prev"]] == 1 and latest[F["in_session"]] == 1
    assert older[F["is_prev"]] == 0 and older[F["in_session"]] == 1
    assert x[:, F["is_prev"]].sum() == 1
    assert cs.index("never gathered") is None


def test_the_popular_labels_are_candidates(blend, gen):
    cs = gather(blend, "g")
    popular = [gen.labels.text(i) for i in gen.labels.top_popular("g", gen.p.n_labels).tolist()]
    assert popular and all(t in cs for t in popular)


def test_the_models_labels_join_with_its_features_and_only_with_a_model(blend):
    cases = [((), "m"), (("weather",), "w"), (("what is fibromyalgia",), "m"), (("news",), "we")]
    for previous, prefix in cases:
        cs = gather(blend, prefix, *previous)
        x = cs.matrix()
        if blend.model is None:
            assert not x[:, XMR_COLUMNS].any()
            continue
        p = blend.gen.p
        with_path = len(prefix) >= p.model_min_chars
        ks = blend.model.keystroke(previous, prefix, with_path)
        mine = ks.session_candidates(p.n_model_session).tolist()
        if with_path:
            mine += ks.candidates(p.n_model)[0].tolist()
        assert all(blend.gen.labels.text(i) in cs for i in mine)
        labels = np.array([blend.gen.labels.id_of(t) for t in cs.texts])
        rows = blend.model.keystroke(previous, prefix, with_path).features(labels[labels >= 0])
        assert np.allclose(x[labels >= 0, XMR_COLUMNS], rows)
        assert not x[labels < 0, XMR_COLUMNS].any()
        path = x[:, F["xmr_path"]]
        assert path.any() == with_path  # one typed character: no path scores, no search


def test_an_unseen_previous_query_brings_labels_that_share_its_words(blend):
    if blend.model is None:
        pytest.skip("the session's labels are the XR-Linear model's source")
    cs = gather(blend, "m", "what is fibromyalgia")
    assert "medicine for fibromyalgia" in cs
    assert "medicine for fibromyalgia" not in gather(blend, "m")
    row = cs.matrix()[cs.index("medicine for fibromyalgia")]
    assert row[F["xmr_prev_cosine"]] > 0 and row[F["xmr_context_cosine"]] > 0


def test_a_misspelled_prefix_brings_candidates_of_its_correction(blend):
    cs = gather(blend, "amazom")
    fixed = [t for t in cs.texts if t in cs.corrected]
    assert fixed and all(t.startswith("amazo") for t in fixed)
    x = cs.matrix()
    assert all(x[cs.index(t), F["corrected"]] == 1 for t in fixed)


@pytest.mark.parametrize(
    ("prefix", "previous"), [("g", ()), ("new y", ("ebay",)), ("amazom", ()), ("m", ("news",))]
)
def test_label_features_are_those_of_the_texts_label_whichever_source_found_it(
    blend, prefix, previous
):
    # sources that find a candidate by its label id hand the id on; the features must be
    # exactly those a lookup of the text gives
    lab = blend.gen.labels
    cs = gather(blend, prefix, *previous, history=[("gmail login", 2, 0.0)])
    x = cs.matrix()
    ids = np.array([lab.id_of(t) for t in cs.texts])
    assert (ids >= 0).any()
    assert (x[:, F["bias_label"]] == (ids >= 0)).all()
    assert (x[:, F["bias_generated"]] == (ids < 0)).all()
    assert np.array_equal(x[ids >= 0, F["label_logcount"]], np.log1p(lab.counts[ids[ids >= 0]]))
    known = np.array(cs.labels)
    assert ((known == ids) | (known == -2)).all(), "an id handed on is the text's own"


@pytest.mark.parametrize("index_dir", ["blend_index_dir", "xmr_index_dir"])
def test_a_ranker_that_answered_before_gathers_what_a_fresh_one_gathers(request, index_dir):
    # the tables and the generator remember what depends on the prefix alone (ranges, top
    # labels, generated completions, spellings): remembered answers must change nothing
    path = request.getfixturevalue(index_dir)
    used = load_index(path).ranker
    history = (HistoryEntry("amazon prime", 2, 0.0), HistoryEntry("new york post", 1, 0.0))
    for prefix in ["a", "am", "amazom", "amazon", "new y", "new yo", "g", "goo", "the be"]:
        fresh = load_index(path).ranker
        for previous in [(), ("ebay",)]:
            for hist in [(), history]:
                context = Context(previous, hist, 10.0)
                want = fresh.gather(context, prefix)
                for _ in range(2):  # the second time from the memos
                    got = used.gather(context, prefix)
                    assert got.texts == want.texts and got.corrected == want.corrected
                    assert np.array_equal(got.matrix(), want.matrix())


def test_a_set_grows_past_its_first_capacity_and_keeps_every_row():
    from autocomplete.candidates.schema import CandidateSet

    cs = CandidateSet(capacity=8)
    for i in range(100):
        cs.row(f"query {i}")[F["hist_present"]] = i
    assert len(cs) == 100 and cs.index("query 99") == 99
    assert cs.matrix()[:, F["hist_present"]].tolist() == list(range(100))


@pytest.mark.parametrize("prefix", ["g", "new y", "amazom", "the be", "zq"])
def test_a_prefixs_own_candidates_fill_only_the_columns_a_block_keeps(blend, prefix):
    # a Block keeps PREFIX_COLUMNS alone: anything else its rows held would be lost
    from autocomplete.candidates.schema import EMPTY_ROW, PREFIX_COLUMNS, CandidateSet

    gen = blend.gen
    blocks = [gen.exact(prefix), *(b for _, b in gen.typo_blocks(prefix))]
    for block in blocks:
        cs = CandidateSet.of(block)
        x = cs.matrix()
        other = np.setdiff1d(np.arange(x.shape[1]), PREFIX_COLUMNS)
        assert (x[:, other] == EMPTY_ROW[other]).all()
        assert all(cs.done)
    assert sum(map(len, blocks)) > 0 or prefix == "zq"
