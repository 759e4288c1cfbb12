"""Spelling corrections in the blended ranker, on the index built from the bundled sample."""

import pytest

from autocomplete.blend import BlendRanker
from autocomplete.candidates.generator import CandidateGenerator
from autocomplete.candidates.schema import F
from autocomplete.history import keystrokes_with_history
from autocomplete.loader import load_index
from autocomplete.model.weights import BlendWeights
from autocomplete.ranking import ANONYMOUS
from indexer.dataset import load_split


@pytest.fixture(scope="module")
def idx(blend_index_dir):
    return load_index(blend_index_dir)


@pytest.fixture(scope="module")
def ranker(idx):
    assert isinstance(idx.ranker, BlendRanker)
    return idx.ranker


def test_amazom_completes_to_amazon_marked_as_a_correction(ranker):
    items = ranker.complete(ANONYMOUS, "amazom", 10)
    assert items and items[0].text.startswith("amazon") and items[0].corrected
    assert all(c.corrected and c.text.startswith("amazo"[: c.typed]) for c in items)


def test_a_real_misspelling_of_the_sample_log_reaches_its_correction_below_itself(ranker):
    # the sample log holds "terms and condidtions of mlb players contracts" (a training query,
    # so an exact-prefix label here), corrected by the user's next query. (At "...of m" the
    # weights fitted on the sample rank twenty typed-as-is endings above any correction.)
    items = ranker.complete(ANONYMOUS, "terms and condidtions of ml", 10)
    assert items[0].text == "terms and condidtions of mlb players contracts"
    assert not items[0].corrected
    fixed = [c for c in items if c.corrected]
    assert "terms and conditions of mlb players contracts" in [c.text for c in fixed]
    assert all(c.text[: c.typed] == "terms and conditions of ml" for c in fixed)


def test_corrections_come_after_every_exact_label_and_history_item(ranker, sample_log):
    data = load_split([sample_log])
    checked = fired = 0
    for ex, ctx in keystrokes_with_history(data.train, data.dev):
        if len(ex.prefix) < 4 or checked >= 3000:
            continue
        checked += 1
        cs = ranker.gather(ctx, ex.prefix)
        if not cs.corrected:
            continue
        fired += 1
        x = cs.matrix()
        exact = {
            t
            for i, t in enumerate(cs.texts)
            if t not in cs.corrected and (x[i, F["bias_label"]] or x[i, F["hist_present"]])
        }
        items = ranker.complete(ctx, ex.prefix, 10)
        seen_fix = False
        for c in items:
            seen_fix |= c.corrected
            assert not (seen_fix and c.text in exact), (ex.prefix, [i.text for i in items])
            assert c.corrected or c.text.startswith(ex.prefix)
        assert [c.score for c in items] == sorted((c.score for c in items), reverse=True)
    assert fired > 20, "the typo source should fire on some sample keystrokes"


def test_correctly_spelled_popular_prefixes_get_no_corrections(ranker):
    for prefix in ("google ma", "new york", "myspace la", "weather"):
        assert not ranker.gather(ANONYMOUS, prefix).corrected, prefix


def test_without_the_typo_source_nothing_is_corrected(idx):
    g = idx.ranker.gen
    plain = CandidateGenerator(g.labels, g.endings, g.transitions, g.p, typo=None)
    weights = BlendWeights.load(idx.files)
    assert weights is not None
    r = BlendRanker(plain, weights, idx.ranker.model)
    assert not any(c.corrected for c in r.complete(ANONYMOUS, "amazom", 10))


def test_skipping_corrections_that_cannot_reach_the_top_k_changes_no_ranking(ranker, sample_log):
    # with k known queries extending the prefix as typed, no correction can rank in the top k:
    # the ranker does not gather them then, and must rank exactly as with every source
    data = load_split([sample_log])
    cases = list(keystrokes_with_history(data.train + data.dev, data.test))[::7][:400]
    skipped = 0
    for k in (1, 2, 5, 10, 30):
        for ex, ctx in cases:
            got = ranker.complete(ctx, ex.prefix, k)
            full = ranker.gather(ctx, ex.prefix)
            want = ranker.best(full, ex.prefix, bool(ctx.history), k, first=not ctx.previous)
            assert [c.text for c in got] == [c.text for c in want], (ex.prefix, k)
            skipped += len(ranker.gather(ctx, ex.prefix, k)) < len(full)
    assert skipped > 0, "no keystroke had corrections to skip: the test shows nothing"
