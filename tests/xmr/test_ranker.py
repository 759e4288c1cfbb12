"""The XR-Linear ranker on a real (small) index: prefixes, exactness, round trips, sessions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocomplete.blend import BlendRanker
from autocomplete.loader import load_index
from autocomplete.model.artifact import IndexFiles
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.labels import LabelIndex
from autocomplete.model.xmr import RankParams, XMRModel
from autocomplete.ranking import Context
from autocomplete.xmr_ranker import FEATURES, XMRRanker
from indexer.sessions import pairs
from indexer.xmr.build import train_xmr
from tests.conftest import SMALL

from .conftest import XmrFixture

COL = {name: i for i, name in enumerate(FEATURES)}


def _ranker(path: Path, params: RankParams | None = None) -> XMRRanker:
    files = IndexFiles(path)
    return XMRRanker.load(files, LabelIndex.load(files), params)


def _ctx(*previous: str) -> Context:
    return Context(previous)


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


def test_loader_serves_the_blend_over_the_model_and_the_bare_model_on_request(
    xmr_index: XmrFixture,
) -> None:
    blend = load_index(xmr_index.path)
    assert isinstance(blend.ranker, BlendRanker) and isinstance(blend.ranker.model, XMRRanker)
    bare = load_index(xmr_index.path, blend=False)
    assert isinstance(bare.ranker, XMRRanker)
    assert bare.files.manifest["build_params"]["xmr"]["max_leaf"] == SMALL.max_leaf


@pytest.mark.parametrize("mode", ["default", "narrow beam", "pool only"])
def test_every_result_extends_the_prefix_and_k_are_returned_when_k_exist(
    xmr_index: XmrFixture, label_texts: list[str], mode: str
) -> None:
    # the sample's ranges are small enough for exact scoring; force the beam (narrow, so
    # the MPC fill is needed too) and a one-wide beam with the popular pool as well
    rp = {
        "default": RankParams(),
        "narrow beam": RankParams(exact_threshold=0, beam=1, pool=0),
        "pool only": RankParams(exact_threshold=0, beam=1, pool=3),
    }
    ranker = _ranker(xmr_index.path, rp[mode])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        prefix=_prefixes(label_texts),
        k=st.integers(1, 25),
        prev=st.sampled_from([(), ("weather",), ("google", "myspace"), ("zz unknown words",)]),
    )
    def check(prefix: str, k: int, prev: tuple[str, ...]) -> None:
        items = ranker.complete(Context(prev), prefix, k)
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
    exact = _ranker(xmr_index.path, RankParams(exact_threshold=10**9))
    beam = _ranker(xmr_index.path, RankParams(exact_threshold=0, beam=10**6, pool=0))
    for prev in [(), ("weather",)]:
        a_ids, a_s = exact.keystroke(prev, prefix).candidates(50)
        b_ids, b_s = beam.keystroke(prev, prefix).candidates(50)
        assert np.allclose(a_s, b_s)  # the same ranking; exact ties may order either way
        same = dict(zip(a_ids.tolist(), a_s.tolist(), strict=True))
        for i, s in zip(b_ids.tolist(), b_s.tolist(), strict=True):
            assert i not in same or np.isclose(same[i], s)


def test_labels_the_beam_misses_join_with_their_exact_path_scores(xmr_index: XmrFixture) -> None:
    # a one-wide beam reaches few labels; the popular pool joins it, each label with the
    # path score the exact pass gives it
    exact = _ranker(xmr_index.path, RankParams(exact_threshold=10**9))
    narrow = _ranker(xmr_index.path, RankParams(exact_threshold=0, beam=1, pool=64))
    for prev, prefix in [((), "m"), (("weather",), "w"), (("google", "gmail"), "g")]:
        lo, hi = exact.labels.range(prefix)
        everything = dict(
            zip(
                *[a.tolist() for a in exact.keystroke(prev, prefix).candidates(hi - lo)],
                strict=True,
            )
        )
        ids, s = narrow.keystroke(prev, prefix).candidates(10)
        assert len(ids) == 10
        for i, score in zip(ids.tolist(), s.tolist(), strict=True):
            assert score == pytest.approx(everything[i])
        assert set(narrow.labels.top_popular(prefix, 5).tolist()) <= set(
            narrow.keystroke(prev, prefix)._searched()[0].tolist()
        )


def test_features_give_the_path_scores_candidates_rank_by(ranker: XMRRanker) -> None:
    for prev, prefix in [
        ((), "m"),
        (("weather",), "w"),
        (("google",), "goo"),
        (("a", "b c"), "new"),
    ]:
        ks = ranker.keystroke(prev, prefix)
        ids, s = ks.candidates(20)
        rows = ranker.keystroke(prev, prefix).features(ids)
        assert rows.shape == (len(ids), len(FEATURES))
        assert np.allclose(rows[:, COL["xmr_path"]], s)
        assert np.allclose(ks.features(ids[::-1])[:, COL["xmr_path"]], s[::-1])


@pytest.mark.parametrize("mode", ["exact", "beam"])
def test_one_keystroke_reuses_path_scores_without_changing_them(
    xmr_index: XmrFixture, mode: str
) -> None:
    # the blend asks a keystroke for its candidates, then for the features of every label
    # any source found (some the search reached, some it did not, some off the prefix);
    # the path scores it looks up must be those a fresh computation gives
    rp = (
        RankParams(exact_threshold=10**9)
        if mode == "exact"
        else RankParams(exact_threshold=0, beam=2, pool=4)
    )
    ranker = _ranker(xmr_index.path, rp)
    labels = ranker.labels
    for prev, prefix in [((), "m"), (("weather",), "w"), (("google",), "go")]:
        ks = ranker.keystroke(prev, prefix)
        found, _ = ks.candidates(5)
        lo, hi = labels.range(prefix)
        others = np.arange(lo, hi)[::3]
        off = np.arange(0, len(labels), max(1, len(labels) // 7))
        off = off[(off < lo) | (off >= hi)][:4]
        ids = np.concatenate([found, others, off])
        cached = ks.features(ids)
        fresh = np.vstack(
            [ranker.keystroke(prev, prefix).features(ids[i : i + 1]) for i in range(len(ids))]
        )
        assert np.allclose(cached, fresh)
        assert np.allclose(
            ks.features(found)[:, COL["xmr_path"]],
            ranker.keystroke(prev, prefix).candidates(5)[1],
        )


def test_labels_off_a_prefix_no_label_extends_score_their_own_paths(ranker: XMRRanker) -> None:
    # spelling corrections bring labels that do not extend the typed prefix; when no label
    # does, no sibling is valid, and each level's term is the log-softmax of the asked
    # labels' own nodes under one parent (with the null logit 0), 0 for an only child
    m = ranker.model
    if m.how != "softmax":
        pytest.skip("the index combines levels without a softmax")
    n = len(ranker.labels)
    rng = np.random.default_rng(7)
    for prev, prefix in [((), "zqxj"), (("weather",), "wqqz"), (("google", "gmail"), "gxq")]:
        lo, hi = ranker.labels.range(prefix)
        assert hi <= lo
        for size in (1, 2, 5, 40):
            ids = rng.choice(n, size=size, replace=False)
            got = ranker.keystroke(prev, prefix).features(ids)[:, COL["xmr_path"]]
            start = m.start_level(prefix, lo, hi)
            q = m.query(prev, prefix)
            want = np.zeros(size)
            for level in range(start + 1, m.height + 1):
                own = m.pos[ids] if level == m.height else m.anc_lab[level][ids]
                for k, node in enumerate(own.tolist()):
                    if m.only[level][node]:
                        continue
                    group = np.unique(own[m.par[level][own] == m.par[level][node]])
                    raw = m._raw(level, group, q)
                    mine = float(raw[np.searchsorted(group, node)])
                    logits = np.append(raw, 0.0) if m.null else raw
                    want[k] += mine - float(np.logaddexp.reduce(logits))
            m.release(q)
            assert np.allclose(got, want, rtol=0, atol=1e-9)


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
        np.sort(rng.choice(np.arange(lo, hi), min(30, hi - lo), replace=False)),  # increasing
        np.array([lo, lo + 2, lo, lo + 2, lo + 1]),  # repeated ids
    ]
    for prev in [("weather",), ("google", "weather channel"), ("zz unknown",)]:
        pc, pv = feat.word_vector(prev[-1:])
        cc, cv = feat.word_vector(prev[-4:])
        p = dict(zip(pc.tolist(), pv.tolist(), strict=True))
        c = dict(zip(cc.tolist(), cv.tolist(), strict=True))
        for ids in sets:
            got_prev, got_ctx = ranker.session.overlaps(ids, (pc, pv), (cc, cv))
            for j, i in enumerate(ids.tolist()):
                lc, lv = feat.word_vector([ranker.labels.text(i)])
                words = list(zip(lc.tolist(), lv.tolist(), strict=True))
                want_p = sum(v * p.get(k, 0.0) for k, v in words)
                want_c = sum(v * c.get(k, 0.0) for k, v in words)
                assert got_prev[j] == pytest.approx(want_p, abs=1e-6)
                assert got_ctx[j] == pytest.approx(want_c, abs=1e-6)


def test_the_session_offers_what_followed_it_first_then_its_closest_words(
    ranker: XMRRanker, xmr_index: XmrFixture
) -> None:
    labels = ranker.labels
    follows: dict[str, set[str]] = {}
    for prev, q, _, _ in pairs(xmr_index.data.train):
        if prev and labels.id_of(prev) >= 0 and labels.id_of(q) >= 0 and prev != q:
            follows.setdefault(prev, set()).add(q)
    prev, nexts = max(follows.items(), key=lambda kv: len(kv[1]))
    prefix = sorted(nexts)[0][:1]
    ks = ranker.keystroke((prev,), prefix, path=False)
    offered = [labels.text(i) for i in ks.session_candidates(1000)]
    followed = [t for t in offered if t in nexts]
    assert followed and offered[: len(followed)] == followed
    rest = np.array([labels.id_of(t) for t in offered[len(followed) :]], dtype=np.int64)
    cosine = ks.features(rest)[:, COL["xmr_context_cosine"]]
    assert np.all(np.diff(cosine) <= 1e-9)
    assert not ranker.keystroke((), prefix).session_candidates(10).size


def test_a_keystroke_without_the_path_score_runs_no_search(ranker: XMRRanker) -> None:
    ks = ranker.keystroke(("weather",), "w", path=False)
    lo, hi = ranker.labels.range("w")
    rows = ks.features(np.arange(lo, hi))
    assert not rows[:, COL["xmr_path"]].any() and rows[:, COL["xmr_prev_cosine"]].any()
    assert ks._q is None  # the model's input was never made


def test_features_of_labels_off_the_prefix_are_finite(ranker: XMRRanker) -> None:
    other = ranker.keystroke((), "w").candidates(5)[0]
    rows = ranker.keystroke(("google",), "m").features(other)
    assert rows.shape == (5, len(FEATURES)) and np.all(np.isfinite(rows))


def test_session_features_by_hand(ranker: XMRRanker) -> None:
    labels = ranker.labels
    lo, hi = labels.range("weather")
    ids = np.arange(lo, hi)
    assert not ranker.keystroke((), "weather").features(ids)[:, 1:].any()  # no session
    rows = ranker.keystroke(("weather channel", "local weather"), "weather").features(ids)
    # candidates sharing the word "weather" with the previous query overlap it, others not
    shares = np.array(["weather" in labels.text(i).split() for i in ids])
    assert shares.any() and not shares.all()
    ov = rows[:, COL["xmr_prev_cosine"]]
    assert np.all(ov[shares] > 0) and np.all(ov[~shares] == 0) and np.all(ov <= 1 + 1e-6)
    assert np.all(rows[:, COL["xmr_context_cosine"]] >= ov - 1e-9)  # context holds prev


def test_transition_features_count_what_followed_the_previous_queries(
    ranker: XMRRanker, xmr_index: XmrFixture
) -> None:
    labels = ranker.labels
    follows = {}
    for prev, q, _, _ in pairs(xmr_index.data.train):
        if prev and labels.id_of(prev) >= 0 and labels.id_of(q) >= 0 and prev != q:
            follows[(prev, q)] = follows.get((prev, q), 0) + 1
    (prev, q), n = max(follows.items(), key=lambda kv: kv[1])
    ids = np.array([labels.id_of(q)])
    latest = ranker.keystroke((prev,), q[:1]).features(ids)[0]
    assert latest[COL["xmr_trans"]] == pytest.approx(np.log1p(n))
    older = ranker.keystroke((prev, "zz unknown"), q[:1]).features(ids)[0]
    assert older[COL["xmr_trans"]] == 0.0
    assert older[COL["xmr_trans_older"]] == pytest.approx(np.log1p(n))


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
    """Round trip: the model trained again (deterministic) scores, in memory and by brute
    force, what the loaded index computes, for exact ranges and beams of several prefixes."""
    texts = [ranker.labels.text(i) for i in range(len(ranker.labels))]
    feat, tree, weights, _ = train_xmr(
        texts,
        list(pairs(xmr_index.data.train)),
        SMALL,
        lambda _m: None,
        np.asarray(ranker.labels.counts),
    )
    m = ranker.model
    fresh = XMRModel.from_trained(feat, tree, weights, SMALL.combine, SMALL.null_class)
    assert np.array_equal(np.asarray(m.perm), tree.perm)
    for prev, prefix in [((), "m"), (("weather",), "wa"), (("google",), "goo"), ((), "new y")]:
        lo, hi = ranker.labels.range(prefix)
        q = m.query(prev, prefix)
        got = m.range_scores(lo, hi, m.fixed_level(prefix), q)
        beam = m.beam_search(0, 0, lo, hi, True, 3, q)
        m.release(q)
        assert np.all(got <= 1e-9)  # log-probabilities below the prefix's trie node
        want = _reference_path(feat, tree, weights, prev, prefix, lo, hi, SMALL.null_class)
        assert np.allclose(got, want, atol=1e-4)
        fq = fresh.query(prev, prefix)
        assert np.array_equal(fresh.range_scores(lo, hi, fresh.fixed_level(prefix), fq), got)
        fresh_beam = fresh.beam_search(0, 0, lo, hi, True, 3, fq)
        fresh.release(fq)
        assert np.array_equal(fresh_beam[0], beam[0])
        assert np.array_equal(fresh_beam[1], beam[1])


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
        assert ranker.complete(_ctx(*prev), prefix, 10) == other.complete(_ctx(*prev), prefix, 10)


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


def test_prefix_with_no_label_returns_nothing(ranker: XMRRanker) -> None:
    assert ranker.complete(_ctx(), "qqqzzz", 10) == []
    assert ranker.keystroke((), "qqqzzz").candidates(10)[0].size == 0


def test_a_session_typing_on_is_offered_what_a_fresh_ranker_offers_it(
    ranker: XMRRanker, xmr_index: XmrFixture
) -> None:
    # each keystroke after the same recent queries narrows the previous one's offer when
    # its search left no word out: typing on, backspacing and a new prefix must all get
    # exactly the labels and order a ranker that never saw the session gives
    sessions = [s for s in xmr_index.data.test if len(s.queries) > 1][:40]
    fresh = _ranker(xmr_index.path)
    typed = 0
    for s in sessions:
        for j in range(1, len(s.queries)):
            previous, q = tuple(s.queries[:j]), s.queries[j]
            prefixes = [q[:i] for i in range(1, len(q) + 1)]
            for prefix in [*prefixes, *prefixes[-2::-1], "a", "an", "b"]:
                fresh.offers.clear()
                got = ranker.keystroke(previous, prefix, path=False).session_candidates(1000)
                want = fresh.keystroke(previous, prefix, path=False).session_candidates(1000)
                assert got.tolist() == want.tolist(), (previous, prefix)
                typed += 1
    assert typed > 100 and ranker.offers, "the offers were used"


def test_a_session_typing_on_gets_the_label_features_a_fresh_ranker_gives(
    ranker: XMRRanker, xmr_index: XmrFixture
) -> None:
    # the session features of a label are remembered per recent queries; the path score is
    # the keystroke's own: both must equal a computation that remembers nothing
    sessions = [s for s in xmr_index.data.test if len(s.queries) > 1][:30]
    fresh = _ranker(xmr_index.path)
    asked = 0
    for s in sessions:
        for j in range(1, len(s.queries)):
            previous, q = tuple(s.queries[:j]), s.queries[j]
            for prefix in [q[:i] for i in range(1, len(q) + 1)]:
                ks = ranker.keystroke(previous, prefix)
                ids = np.unique(np.concatenate([ks.candidates(20)[0], ks.session_candidates(10)]))
                ids = np.concatenate([ids, ids[:3]])  # repeats are answered too
                fresh.described.clear()
                want = fresh.keystroke(previous, prefix).features(ids)
                np.testing.assert_array_equal(ks.features(ids), want)
                asked += len(ids)
    assert asked > 1000 and ranker.described
