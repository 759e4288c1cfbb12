"""The word bigram model: natural word order scores higher, stored scores equal computed ones."""

import numpy as np
import pytest

from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.wordlm import WordLM, count

QUERIES = [("new york times", 50), ("new york weather", 30), ("times square", 10), ("ebay", 40)]


@pytest.fixture
def lm():
    return WordLM.of_counts(*count(QUERIES))


def test_words_in_their_usual_order_score_higher_than_reversed(lm):
    assert lm.score("new york times") > lm.score("times york new")
    assert lm.score("new york weather") > lm.score("new weather york")


def test_a_seen_query_scores_higher_than_one_with_an_unknown_word(lm):
    assert lm.score("new york times") > lm.score("new york zzz")


def test_more_words_of_the_same_kind_cost_probability(lm):
    assert lm.score("ebay") > lm.score("ebay ebay")


def test_stored_label_scores_equal_computed_ones_and_other_texts_are_computed(tmp_path, lm):
    labels = sorted(q for q, _ in QUERIES)
    w = IndexWriter(tmp_path / "idx")
    lm.save(w, labels)
    w.commit(model="mpc", label_count=len(labels), build_params={}, stats={})
    loaded = WordLM.load(IndexFiles(tmp_path / "idx"), len(labels))
    got = loaded.of_candidates(np.array([*range(len(labels)), -1]), [*labels, "york new"])
    want = [lm.score(q) for q in [*labels, "york new"]]
    assert got.tolist() == pytest.approx(want)


def test_scores_for_another_label_count_are_refused(tmp_path, lm):
    w = IndexWriter(tmp_path / "idx")
    lm.save(w, ["ebay"])
    w.commit(model="mpc", label_count=1, build_params={}, stats={})
    with pytest.raises(IndexFormatError, match="lm_labels"):
        WordLM.load(IndexFiles(tmp_path / "idx"), 2)
