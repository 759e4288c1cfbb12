"""The featuriser: prefix-weighted char n-grams, session words, TF-IDF, joint l2 norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocomplete.model.analyzer import START_TOKEN, char_ngrams, context_words
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.featurizer import Featurizer, FeaturizerParams


def test_char_ngrams_weight_by_start_position_and_boost_word_starts() -> None:
    # "a b": positions 0 ("a", word start), 1 (" "), 2 ("b", word start)
    got = char_ngrams("a b", ngram_max=2, position_decay=1.0, word_start_boost=2.0)
    assert got == pytest.approx({"a": 2.0, "a ": 2.0, " ": 0.5, " b": 0.5, "b": 2.0 / 3.0})


def test_char_ngrams_sum_repeated_grams() -> None:
    got = char_ngrams("aa", ngram_max=1, position_decay=1.0, word_start_boost=1.0)
    assert got == pytest.approx({"a": 1.0 + 0.5})


def test_prefix_weighting_off_gives_plain_counts() -> None:
    got = char_ngrams("abab", ngram_max=2, position_decay=0.0, word_start_boost=1.0)
    assert got == pytest.approx({"a": 2, "b": 2, "ab": 2, "ba": 1})


def test_context_words_decay_with_age_and_start_token_for_first_query() -> None:
    assert context_words((), 3, 0.5, start_token=True) == {START_TOKEN: 1.0}
    assert context_words((), 3, 0.5, start_token=False) == {}
    got = context_words(("new jersey", "new york"), 2, 0.5, start_token=True)
    assert got == {"new": 1.5, "york": 1.0, "jersey": 0.5}
    assert context_words(("old news", "new york"), 1, 0.5, True) == {"new": 1.0, "york": 1.0}


def _idf(n_docs: int, df: int) -> float:
    return math.log((1 + n_docs) / (1 + df)) + 1


def test_transform_values_by_hand() -> None:
    p = FeaturizerParams(
        ngram_max=1, position_decay=1.0, word_start_boost=1.0, session_weight=1.0, start_token=False
    )
    f = Featurizer.fit(p, ["ab", "b"])
    cols, vals = f.transform(["ab"], "ab")
    got = {
        (
            f.words_.restore_key(int(c))
            if c < f.n_words
            else f.grams_.restore_key(int(c) - f.n_words)
            if c != f.bias_col
            else "<bias>"
        ): float(v)
        for c, v in zip(cols, vals, strict=True)
    }
    # char block: a -> 1 * idf(a), b -> 1/2 * idf(b); word block: "ab" -> idf(ab); each block
    # l2-normalised, then the concatenation (norm sqrt(2)); bias 1 appended unnormalised
    ia, ib = _idf(2, 1), _idf(2, 2)
    na = math.hypot(ia, 0.5 * ib)
    s2 = math.sqrt(2)
    assert got == pytest.approx(
        {"ab": 1 / s2, "a": ia / na / s2, "b": 0.5 * ib / na / s2, "<bias>": 1.0}
    )
    assert cols[-1] == f.bias_col


def test_unknown_grams_and_words_are_dropped() -> None:
    f = Featurizer.fit(FeaturizerParams(), ["abc"])
    cols, vals = f.transform(["zzz"], "q")
    assert cols.tolist() == [f.bias_col]  # nothing known but the bias
    assert vals.tolist() == [1.0]


def test_transform_many_equals_stacked_transform() -> None:
    texts = ["new york", "new york times", "news", "weather"]
    f = Featurizer.fit(FeaturizerParams(context_window=2, context_decay=0.5), texts)
    ctxs = [(), ("news",), ("weather", "news"), ("news",)]
    prefixes = ["n", "new y", "w", "n"]
    m = f.transform_many(ctxs, prefixes)
    for i, (c, p) in enumerate(zip(ctxs, prefixes, strict=True)):
        row = f.transform_row(c, p)
        assert np.allclose(m[i].toarray(), row.toarray())


def test_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from autocomplete.model.artifact import IndexFiles, IndexWriter

    p = FeaturizerParams()
    f = Featurizer.fit(p, ["new york", "news", "weather channel"])
    w = IndexWriter(tmp_path / "idx")
    f.save(w)
    w.commit(model="xmr", label_count=0, build_params={})
    g = Featurizer.load(IndexFiles(tmp_path / "idx"))
    assert g.params == p
    for prev, pre in [((), "ne"), (("news",), "weather c"), (("a b",), "")]:
        a, b = f.transform(prev, pre), g.transform(prev, pre)
        assert a[0].tolist() == b[0].tolist() and np.allclose(a[1], b[1])


def test_settings_of_another_version_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from autocomplete.model.artifact import IndexFiles, IndexWriter

    w = IndexWriter(tmp_path / "idx")
    Featurizer.fit(FeaturizerParams(), ["news"]).save(w)
    w.json("xmr_featurizer", {"version": 99, "params": {}})
    w.commit(model="xmr", label_count=0, build_params={})
    with pytest.raises(IndexFormatError, match="featuriser version 99"):
        Featurizer.load(IndexFiles(tmp_path / "idx"))


def test_the_analyzer_weighs_positions_past_the_table_as_its_last() -> None:
    text = "a" * 600
    got = char_ngrams(text, ngram_max=1, position_decay=1.0, word_start_boost=2.0)
    want = 2.0 + sum(1.0 / (min(i, 511) + 1) for i in range(1, 600))
    assert got == pytest.approx({"a": want})


def test_serving_caches_give_the_batch_values_keystroke_by_keystroke() -> None:
    texts = ["new york", "new york times", "news", "weather", "new jersey devils"]
    f = Featurizer.fit(FeaturizerParams(context_window=2, context_decay=0.5), texts)
    query, ctx = "new jersey devils", ("weather", "news")
    typed = [query[:n] for n in range(1, len(query) + 1)]
    batch = f.transform_many([ctx] * len(typed), typed)
    for i, p in enumerate(typed):  # each keystroke extends the cached previous prefix
        assert np.allclose(f.transform_row(ctx, p).toarray(), batch[i].toarray())
    f2 = Featurizer.fit(FeaturizerParams(context_window=2, context_decay=0.5), texts)
    assert np.allclose(f2.transform_row(ctx, query).toarray(), batch[-1].toarray())  # cold cache


def test_word_vector_and_label_words() -> None:
    f = Featurizer.fit(FeaturizerParams(), ["new york", "york", "news"])
    cols, vals = f.word_vector(["new york", "york"])
    got = dict(zip((f.words_.restore_key(int(c)) for c in cols), vals.tolist(), strict=True))
    i_new, i_york = _idf(3, 1), _idf(3, 2)
    n = math.hypot(i_new, 2 * i_york)
    assert got == pytest.approx({"new": i_new / n, "york": 2 * i_york / n})
    lw = f.label_words(["new york", "zzz"])
    assert lw.shape == (2, f.n_words)
    assert lw[1].nnz == 0 and np.isclose((lw[0].toarray() ** 2).sum(), 1.0)
