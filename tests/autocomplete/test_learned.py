"""The learned ranker: trees fitted at build on dev, served on top of the linear blend."""

import json

import numpy as np
import pytest

from autocomplete.blend import TREE_FEATURES, BlendRanker
from autocomplete.history import keystrokes
from autocomplete.loader import load_index
from autocomplete.model.artifact import IndexFiles
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.learned import FILE, LearnedRanking
from autocomplete.model.weights import MODES
from autocomplete.ranking import Context
from indexer.dataset import load_split


@pytest.fixture(scope="module")
def rankers(xmr_index_dir):
    learned = load_index(xmr_index_dir).ranker
    linear = load_index(xmr_index_dir, learned=False).ranker
    assert isinstance(learned, BlendRanker) and isinstance(linear, BlendRanker)
    return learned, linear


def test_the_default_build_stores_trees_for_both_modes_over_the_served_features(xmr_index_dir):
    files = IndexFiles(xmr_index_dir)
    learned = LearnedRanking.load(files)
    assert learned is not None and set(learned.trees) == set(MODES)
    for trees in learned.trees.values():
        assert trees.features == TREE_FEATURES and trees.trees > 0
    assert files.manifest["stats"]["learned_fit"]["anonymous"]["lists"] > 0


def test_the_trees_change_scores_but_every_answer_still_extends_the_prefix(rankers, sample_log):
    learned, linear = rankers
    data = load_split([sample_log])
    changed = 0
    for n, (ex, ctx) in enumerate(keystrokes(data.test)):
        if n % 7:
            continue
        a = learned.complete(ctx, ex.prefix, 10)
        b = linear.complete(ctx, ex.prefix, 10)
        assert all(c.text.startswith(ex.prefix) or c.corrected for c in a)
        assert len(a) <= 10 and len({c.text for c in a}) == len(a)
        changed += [c.text for c in a] != [c.text for c in b]
        if n > 3000:
            break
    assert changed > 0  # the trees are not a no-op


def test_the_first_query_of_a_session_changes_scores_only_where_trees_split_on_it(
    rankers, xmr_index_dir
):
    learned, _ = rankers
    cs = learned.gather(Context(), "n")
    first = learned.score(cs, "n", False, first=True)
    later = learned.score(cs, "n", False, first=False)
    assert first.shape == later.shape == (len(cs),)
    assert np.all(np.isfinite(first)) and np.all(np.isfinite(later))
    trees = LearnedRanking.load(IndexFiles(xmr_index_dir)).trees["anonymous"]
    uses = bool((trees.feature == TREE_FEATURES.index("first_query")).any())
    assert uses == (not np.array_equal(first, later))


def test_trees_over_other_features_are_refused_at_load(xmr_index_dir, tmp_path):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(xmr_index_dir, copy)
    files = IndexFiles(copy)
    raw = files.json(FILE)
    for t in raw["trees"].values():
        t["features"] = [*t["features"][:-1], "something_else"]
    files.amend(FILE, raw)
    with pytest.raises(IndexFormatError, match="rebuild"):
        load_index(copy)
    assert isinstance(load_index(copy, learned=False).ranker, BlendRanker)


def test_a_corrupt_learned_file_is_refused_by_its_checksum(xmr_index_dir, tmp_path):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(xmr_index_dir, copy)
    path = copy / f"{FILE}.json"
    raw = json.loads(path.read_text())
    raw["trees"]["anonymous"]["leaf_value"][0] += 1.0
    path.write_text(json.dumps(raw))
    with pytest.raises(IndexFormatError):
        load_index(copy)


def test_trees_without_the_word_model_they_read_are_refused_at_load(xmr_index_dir, tmp_path):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(xmr_index_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith("lm_")}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="word model"):
        load_index(copy)
