"""The runtime ranker on a real (small) index: prefixes, exactness, round trips, sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocomplete.loader import load_index
from autocomplete.mpc import MPCRanker
from autocomplete.xmr_ranker import XMRRanker, load_xmr_ranker
from indexer.artifact import IndexFiles
from indexer.errors import IndexFormatError
from indexer.labels import LabelIndex
from indexer.sessions import pairs
from indexer.xmr.build import train_xmr
from indexer.xmr.params import FEATURES, RankParams

from .conftest import SMALL, XmrFixture


def _ranker(path: Path, params: RankParams | None = None) -> XMRRanker:
    files = IndexFiles(path)
    labels = LabelIndex(files)
    return load_xmr_ranker(files, labels, MPCRanker(labels), params)


@pytest.fixture(scope="module")
def ranker(xmr_index: XmrFixture) -> XMRRanker:
    return _ranker(xmr_index.path)


@pytest.fixture(scope="module")
def label_texts(ranker: XMRRanker) -> list[str]:
    return [ranker.labels.text(i) for i in range(len(ranker.labels))]


def _prefixes(texts: list[str]) -> st.SearchStrategy[str]:
    real = st.builds(
        lambda t, n: t[: max(1, min(n, len(t)))], st.sampled_from(texts), st.integers(1, 12)
    )
    noise = st.text(alphabet="abcdemnostw .-", min_size=1, max_size=6)
    return st.one_of(real, noise)


def test_loader_serves_the_xmr_ranker(xmr_index: XmrFixture) -> None:
    idx = load_index(xmr_index.path, blend=False)
    assert isinstance(idx.ranker, XMRRanker)
    assert idx.files.manifest["build_params"]["xmr"]["max_leaf"] == SMALL.max_leaf


@pytest.mark.parametrize("mode", ["default", "narrow beam", "no model"])
def test_every_result_extends_the_prefix_and_k_are_returned_when_k_exist(
    xmr_index: XmrFixture, label_texts: list[str], mode: str
) -> None:
    # the sample's ranges are small enough for exact scoring; force the beam (narrow, so
    # the MPC fill is needed too) and the beam-less candidate sources as well
    rp = {
        "default": RankParams(),
        "narrow beam": RankParams(exact_threshold=0, beam=1, pool=0),
        "no model": RankParams(exact_threshold=0, pool=3).with_weights(
            {c: (0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0) for c in ("no_prev", "prev", "prev_known")}
        ),
    }
    ranker = _ranker(xmr_index.path, rp[mode])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        prefix=_prefixes(label_texts),
        k=st.integers(1, 25),
        prev=st.sampled_from([(), ("weather",), ("google", "myspace"), ("zz unknown words",)]),
    )
    def check(prefix: str, k: int, prev: tuple[str, ...]) -> None:
        items = ranker.complete(prev, prefix, k)
        lo, hi = ranker.labels.range(prefix)
        assert len(items) == min(k, hi - lo)
        assert all(c.text.startswith(prefix) for c in items)
        assert len({c.text for c in items}) == len(items)
        scores = [c.score for c in items]
        assert scores == sorted(scores, reverse=True)

    check()


@pytest.mark.parametrize("prefix", ["m", "w", "ma", "the", "goo"])
def test_full_width_beam_search_agrees_with_exact_scoring(
    xmr_index: XmrFixture, prefix: str
) -> None:
    # the model's path score and popularity both weigh, so the beam is searched
    w = (1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0)
    rows = {"no_prev": w, "prev": w, "prev_known": w}
    exact = _ranker(xmr_index.path, RankParams(exact_threshold=10**9).with_weights(rows))
    beam = _ranker(
        xmr_index.path, RankParams(exact_threshold=0, beam=10**6, pool=0).with_weights(rows)
    )
    for prev in [(), ("weather",)]:
        a_ids, a_s = exact.candidates(prev, prefix, 50)
        b_ids, b_s = beam.candidates(prev, prefix, 50)
        assert np.allclose(a_s, b_s)  # the same ranking; exact ties may order either way
        same = dict(zip(a_ids.tolist(), a_s.tolist(), strict=True))
        for i, s in zip(b_ids.tolist(), b_s.tolist(), strict=True):
            assert i not in same or np.isclose(same[i], s)


def test_popular_and_session_candidates_join_when_the_model_has_no_weight(
    xmr_index: XmrFixture,
) -> None:
    # with the path score unweighted the beam is skipped: candidates come from popularity
    # and the session, and the ranking equals the exact one over the whole range
    w = (0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0)
    rows = {"no_prev": w, "prev": w, "prev_known": w}
    exact = _ranker(xmr_index.path, RankParams(exact_threshold=10**9).with_weights(rows))
    beam = _ranker(xmr_index.path, RankParams(exact_threshold=0, pool=64).with_weights(rows))
    for prev, prefix in [((), "m"), (("weather",), "w"), (("google", "gmail"), "g")]:
        a_ids, a_s = exact.candidates(prev, prefix, 10)
        b_ids, b_s = beam.candidates(prev, prefix, 10)
        assert np.allclose(a_s, b_s)


def test_score_labels_and_features_agree_with_candidates(ranker: XMRRanker) -> None:
    for prev, prefix in [
        ((), "m"),
        (("weather",), "w"),
        (("google",), "goo"),
        (("a", "b c"), "new"),
    ]:
        ids, s = ranker.candidates(prev, prefix, 20)
        assert np.allclose(ranker.score_labels(prev, prefix, ids), s)
        assert np.allclose(ranker.score_labels(prev, prefix, ids[::-1]), s[::-1])
        f_ids, rows, w = ranker.features(prev, prefix, ids)
        assert f_ids.tolist() == ids.tolist() and rows.shape == (len(ids), len(FEATURES))
        assert np.allclose(rows @ w, s)


@pytest.mark.parametrize("mode", ["exact", "beam"])
def test_one_keystroke_reuses_path_scores_without_changing_them(
    xmr_index: XmrFixture, mode: str
) -> None:
    # the blend asks a keystroke for its candidates, then scores every label any source
    # found (some the beam reached, some it did not, some off the prefix); the path scores
    # it looks up must be those a fresh computation gives
    w = (1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0)
    rows = {"no_prev": w, "prev": w, "prev_known": w}
    rp = (
        RankParams(exact_threshold=10**9)
        if mode == "exact"
        else RankParams(exact_threshold=0, beam=2, pool=4)
    )
    ranker = _ranker(xmr_index.path, rp.with_weights(rows))
    labels = ranker.labels
    for prev, prefix in [((), "m"), (("weather",), "w"), (("google",), "go")]:
        ks = ranker.keystroke(prev, prefix)
        found, _ = ks.candidates(5)
        lo, hi = labels.range(prefix)
        others = np.arange(lo, hi)[::3]
        off = np.arange(0, len(labels), max(1, len(labels) // 7))
        off = off[(off < lo) | (off >= hi)][:4]
        ids = np.concatenate([found, others, off])
        cached = ks.score(ids)
        fresh = np.array(
            [ranker.keystroke(prev, prefix).score(ids[i : i + 1])[0] for i in range(len(ids))]
        )
        assert np.allclose(cached, fresh)
        assert np.allclose(ks.score(found), ranker.keystroke(prev, prefix).candidates(5)[1])


def test_context_overlaps_equal_word_vector_cosines_for_any_candidate_set(
    ranker: XMRRanker,
) -> None:
    # the overlap features are read through postings for large candidate sets and through
    # each label's words for small ones: both must be the plain cosine of word vectors
    feat = ranker.model.feat
    n = len(ranker.labels)
    lo, hi = ranker.labels.range("w")
    rng = np.random.default_rng(1)
    sets = [
        np.arange(lo, hi),  # a whole range, in order
        np.arange(lo, hi)[::-1],
        rng.permutation(np.arange(lo, min(hi, lo + 40))),
        rng.choice(n, 25, replace=False),
        np.array([lo]),
        np.array([n - 1, 0]),  # two labels far apart: cheaper through their own words
    ]
    for prev in [("weather",), ("google", "weather channel"), ("zz unknown",)]:
        pc, pv = feat.word_vector(prev[-1:])
        cc, cv = feat.word_vector(prev[-4:])
        p = dict(zip(pc.tolist(), pv.tolist(), strict=True))
        c = dict(zip(cc.tolist(), cv.tolist(), strict=True))
        for ids in sets:
            got_prev, got_ctx = ranker._overlaps(ids, prev)
            for j, i in enumerate(ids.tolist()):
                lc, lv = feat.word_vector([ranker.labels.text(i)])
                words = list(zip(lc.tolist(), lv.tolist(), strict=True))
                want_p = sum(v * p.get(k, 0.0) for k, v in words)
                want_c = sum(v * c.get(k, 0.0) for k, v in words)
                assert got_prev[j] == pytest.approx(want_p, abs=1e-6)
                assert got_ctx[j] == pytest.approx(want_c, abs=1e-6)


def test_score_labels_of_labels_off_the_prefix_are_finite(ranker: XMRRanker) -> None:
    other = ranker.candidates((), "w", 5)[0]
    scores = ranker.score_labels(("google",), "m", other)
    assert scores.shape == (5,) and np.all(np.isfinite(scores))


def test_session_features_by_hand(ranker: XMRRanker) -> None:
    labels = ranker.labels
    lo, hi = labels.range("weather")
    ids = np.arange(lo, hi)
    prev = ("weather channel", "local weather")  # the first is a label: in_session
    _, rows, _ = ranker.features(prev, "weather", ids)
    col = {name: i for i, name in enumerate(FEATURES)}
    assert np.allclose(rows[:, col["log_count"]], np.log(np.maximum(labels.counts[lo:hi], 1)))
    in_session = rows[:, col["in_session"]]
    assert in_session[ids == labels.id_of("weather channel")].tolist() == [1.0]
    assert in_session.sum() == 1.0
    # candidates sharing the word "weather" with the previous query overlap it, others not
    shares = np.array(["weather" in labels.text(i).split() for i in ids])
    assert shares.any() and not shares.all()
    ov = rows[:, col["prev_overlap"]]
    assert np.all(ov[shares] > 0) and np.all(ov[~shares] == 0) and np.all(ov <= 1 + 1e-6)


def _reference_path(feat, tree, weights, prev, prefix, lo, hi, null):  # type: ignore[no-untyped-def]
    """Brute force: every node's score, softmax over valid siblings, summed down each path."""
    x = feat.transform_row(prev, prefix).toarray().ravel()
    anc = tree.ancestors()
    pos = np.empty(tree.n_labels, dtype=np.int64)
    pos[tree.perm] = np.arange(tree.n_labels)
    start = min(len(prefix), tree.depth)
    total = np.zeros(hi - lo)
    for level in range(start + 1, tree.height + 1):
        raw = weights[level - 1] @ x
        par = tree.parents(level)
        valid = np.zeros(tree.level_size(level), dtype=bool)
        valid[anc[level][pos[lo:hi]]] = True
        term = np.zeros_like(raw)
        for p in np.unique(par[valid]):
            sib = np.flatnonzero((par == p) & valid)
            z = raw[sib]
            lse = np.logaddexp.reduce(np.append(z, 0.0) if null else z)
            term[sib] = 0.0 if np.sum(par == p) == 1 else z - lse
        total += term[anc[level][pos[lo:hi]]]
    return total


def test_saved_index_reproduces_the_trained_model(xmr_index: XmrFixture, ranker: XMRRanker) -> None:
    """Round trip: the in-memory model (retrained, deterministic) scored by brute force equals
    what the loaded index computes, for exact ranges of several prefixes."""
    texts = [ranker.labels.text(i) for i in range(len(ranker.labels))]
    feat, tree, weights, _ = train_xmr(
        texts,
        list(pairs(xmr_index.data.train)),
        SMALL,
        lambda _m: None,
        np.asarray(ranker.labels.counts),
    )
    m = ranker.model
    assert np.array_equal(np.asarray(m.perm), tree.perm)
    for prev, prefix in [((), "m"), (("weather",), "wa"), (("google",), "goo"), ((), "new y")]:
        lo, hi = ranker.labels.range(prefix)
        q = m.query(prev, prefix)
        got = m.range_scores(lo, hi, m.fixed_level(prefix), q)
        assert np.all(got <= 1e-9)  # log-probabilities below the prefix's trie node
        m.release(q)
        want = _reference_path(feat, tree, weights, prev, prefix, lo, hi, SMALL.null_class)
        assert np.allclose(got, want, atol=1e-4)


def test_paths_start_below_the_common_ancestor_of_the_prefix_labels(ranker: XMRRanker) -> None:
    m = ranker.model
    for prefix in ["m", "ma", "goo", "new y", "weather channel"]:
        lo, hi = ranker.labels.range(prefix)
        s = m.start_level(prefix, lo, hi)
        assert s >= m.fixed_level(prefix)
        if s < m.height:
            assert len(set(m.anc_lab[s][lo:hi].tolist())) == 1
        if s + 1 < m.height:
            assert len(set(m.anc_lab[s + 1][lo:hi].tolist())) > 1
        # skipping the shared levels shifts every candidate's path by one constant
        q = m.query((), prefix)
        a = m.range_scores(lo, hi, m.fixed_level(prefix), q)
        b = m.range_scores(lo, hi, s, q)
        m.release(q)
        assert np.allclose(a - b, (a - b)[0])


def test_reloading_gives_identical_rankings(
    xmr_index: XmrFixture, ranker: XMRRanker, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(xmr_index.path, copy)
    other = _ranker(copy)
    for prev, prefix in [((), "m"), (("weather",), "w"), (("google",), "goo"), ((), "new y")]:
        assert ranker.complete(prev, prefix, 10) == other.complete(prev, prefix, 10)


@pytest.mark.parametrize("victim", ["xmr_w_2.data.npy", "xmr_perm.npy", "xmr_grams.marisa"])
def test_a_corrupt_xmr_file_fails_to_load(
    xmr_index: XmrFixture, tmp_path: Path, victim: str
) -> None:
    copy = tmp_path / "corrupt"
    shutil.copytree(xmr_index.path, copy)
    f = copy / victim
    data = bytearray(f.read_bytes())
    data[-3] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="checksum"):
        load_index(copy)


def test_rank_of_the_true_next_query_rises_with_its_previous_query(ranker: XMRRanker) -> None:
    # a real pair of the sample's test part; the previous query was never seen in training,
    # so no transition counts exist: its topic (word features, overlap) lifts the target
    prev, target, prefix = ("what is fibromyalgia",), "medicine for fibromyalgia", "m"
    assert ranker.labels.id_of(prev[0]) < 0
    without = [c.text for c in ranker.complete((), prefix, 50)]
    with_prev = [c.text for c in ranker.complete(prev, prefix, 50)]
    assert target in with_prev[:3]
    assert with_prev.index(target) + 5 < (without.index(target) if target in without else 50)


def test_prefix_with_no_label_returns_nothing(ranker: XMRRanker) -> None:
    assert ranker.complete((), "qqqzzz", 10) == []
    assert ranker.candidates((), "qqqzzz", 10)[0].size == 0
