"""The numpy tree scorer: the same sums as LightGBM's own predictor, and a checked file."""

import lightgbm as lgb
import numpy as np
import pytest

from autocomplete.model.errors import IndexFormatError
from autocomplete.model.trees import TreeEnsemble

NAMES = ["a", "b", "c", "d"]


@pytest.fixture(scope="module", params=[13, 7], ids=["wide", "byte-wide"])
def booster(request):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 4))
    x[:, 3] = rng.integers(0, 3, 4000)  # a few distinct values: ties at thresholds
    y = (x[:, 0] > 0.3) * 2.0 + np.sin(x[:, 1]) + 0.5 * x[:, 3] + rng.normal(0, 0.1, 4000)
    data = lgb.Dataset(x, y, feature_name=NAMES)
    params = {"num_leaves": request.param, "learning_rate": 0.2, "verbose": -1, "num_threads": 1}
    return lgb.train(params, data, num_boost_round=25)


def test_the_numpy_scorer_sums_the_same_leaves_as_lightgbm(booster):
    trees = TreeEnsemble.from_lightgbm(booster.dump_model(), NAMES)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 4))
    x[:, 3] = rng.integers(0, 3, 300)
    x[:5] = trees.threshold[:5, None].clip(-5, 5)  # rows sitting exactly on split values
    assert trees.trees == booster.num_trees()
    np.testing.assert_allclose(trees.score(x), booster.predict(x), rtol=0, atol=1e-12)


def test_a_tree_of_one_leaf_adds_its_value_to_every_row():
    dump = {"tree_info": [{"tree_structure": {"leaf_value": 0.25}}]}
    trees = TreeEnsemble.from_lightgbm(dump, NAMES)
    np.testing.assert_array_equal(trees.score(np.zeros((3, 4))), [0.25, 0.25, 0.25])


def test_no_rows_or_no_trees_score_zeros():
    empty = TreeEnsemble.from_lightgbm({"tree_info": []}, NAMES)
    assert empty.score(np.ones((2, 4))).tolist() == [0.0, 0.0]


def test_the_ensemble_round_trips_through_json_with_its_uint64_masks(booster):
    trees = TreeEnsemble.from_lightgbm(booster.dump_model(), NAMES)
    back = TreeEnsemble.from_json(trees.to_json())
    assert back.mask.dtype == np.uint64 and np.array_equal(back.mask, trees.mask)
    x = np.random.default_rng(5).normal(size=(50, 4))
    np.testing.assert_array_equal(back.score(x), trees.score(x))


@pytest.mark.parametrize(
    "damage",
    [
        lambda j: j.update(feature=[9] * len(j["feature"])),  # a column the rows do not have
        lambda j: j.update(node_start=[0, 10**6]),  # a tree starting past the nodes
        lambda j: j.update(threshold=j["threshold"][:-1]),  # arrays of different lengths
        lambda j: j.pop("mask"),
        lambda j: j.update(leaf_value=["x"] * len(j["leaf_value"])),
    ],
)
def test_a_damaged_ensemble_is_refused_when_loaded(booster, damage):
    raw = TreeEnsemble.from_lightgbm(booster.dump_model(), NAMES).to_json()
    damage(raw)
    with pytest.raises(IndexFormatError):
        TreeEnsemble.from_json(raw)


def test_a_model_over_other_features_is_refused_at_export(booster):
    with pytest.raises(ValueError, match="features"):
        TreeEnsemble.from_lightgbm(booster.dump_model(), ["w", "x", "y", "z"])
