"""Fit the learned ranker on the dev split: LambdaRank trees on top of the linear blend.

For each dev keystroke, the candidates are the trees' list, with the linear blend's score
(already fitted, `autocomplete.fit`) as each row's starting score (LightGBM's `init_score`),
so the trees learn only what the linear function cannot say:
interactions such as "a generated ending is worth more when the typed context is long", or
"history outranks popularity only when recent". LambdaRank optimises NDCG@10 of the list,
which for one relevant query per list is its reciprocal-rank-like gain.

Deterministic: fixed seeds, `deterministic=True`, so the same dev data gives the same trees.
LightGBM is only imported here (build time); serving scores the exported arrays
(`autocomplete.model.trees`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from autocomplete.model.buckets import bucket_index
from autocomplete.model.learned import KEYSTROKE_FEATURES, LearnedRanking, keystroke_rows
from autocomplete.model.trees import TreeEnsemble

from .candidates.schema import FEATURES


@dataclass(frozen=True)
class TreeParams:
    """trees, leaves, learning_rate, min_leaf: LightGBM's num_boost_round, num_leaves,
    learning_rate, min_data_in_leaf; threads: its num_threads.

    Chosen on dev keystrokes the fit did not see (users hashed into 8 folds, fold 3 held
    out; `bench/README.md`, "Learned ranking"): 60 trees of 7 leaves matched 100 x 15 and
    200 x 31 within 0.3% MRR and score several times faster; 30 trees at a learning rate of
    0.3 came within 0.14% of 60 at 0.15 (15 at 0.4: 0.4%) for half the scoring work.
    """

    trees: int = 30
    leaves: int = 7
    learning_rate: float = 0.3
    min_leaf: int = 50
    threads: int = 2
    seed: int = 7


@dataclass
class Lists:
    """One mode's dev keystrokes as ranking lists: rows of candidate + keystroke features,
    the linear score of each row, and per list its size and the target's row within it."""

    x: list[np.ndarray]
    linear: list[np.ndarray]
    target: list[int]

    @classmethod
    def empty(cls) -> Lists:
        return cls([], [], [])


def add_list(
    lists: Lists, x: np.ndarray, target: int, w: np.ndarray, prefix_len: int, first: bool
) -> None:
    """Add one keystroke: candidates `x`, the target's row, the mode's linear weights by
    bucket."""
    lists.x.append(keystroke_rows(x, prefix_len, first))
    lists.linear.append(x @ w[bucket_index(prefix_len)])
    lists.target.append(target)


def fit_lists(lists: Lists, params: TreeParams) -> tuple[TreeEnsemble, dict[str, Any]]:
    """LambdaRank trees over the lists, starting from their linear scores."""
    import lightgbm as lgb  # build-time only

    t0 = time.perf_counter()
    names = [*FEATURES, *KEYSTROKE_FEATURES]
    if not lists.x:
        return TreeEnsemble.from_lightgbm({"tree_info": []}, names), {"lists": 0}
    x = np.vstack(lists.x)
    sizes = np.array([len(r) for r in lists.x])
    rel = np.zeros(len(x))
    rel[np.concatenate([[0], np.cumsum(sizes)[:-1]]) + np.array(lists.target)] = 1.0
    data = lgb.Dataset(
        x,
        rel,
        group=sizes,
        init_score=np.concatenate(lists.linear),
        feature_name=names,
        free_raw_data=True,
        params={"feature_pre_filter": False, "verbose": -1},
    )
    booster = lgb.train(
        {
            "objective": "lambdarank",
            "lambdarank_truncation_level": 10,
            "num_leaves": params.leaves,
            "learning_rate": params.learning_rate,
            "min_data_in_leaf": params.min_leaf,
            "num_threads": params.threads,
            "deterministic": True,
            "force_row_wise": True,
            "seed": params.seed,
            "verbose": -1,
        },
        data,
        num_boost_round=params.trees,
    )
    gain = booster.feature_importance("gain")
    total = float(gain.sum()) or 1.0
    stats = {
        "lists": len(sizes),
        "rows": int(len(x)),
        "trees": booster.num_trees(),
        "seconds": round(time.perf_counter() - t0, 2),
        "gain_share": {
            n: round(float(g) / total, 4) for n, g in zip(names, gain, strict=True) if g > 0
        },
    }
    return TreeEnsemble.from_lightgbm(booster.dump_model(), names), stats


def fit_learned(
    lists: dict[str, Lists], params: TreeParams
) -> tuple[LearnedRanking, dict[str, dict[str, Any]]]:
    """Both modes' trees; `lists[mode]` from `add_list`."""
    trees, stats = {}, {}
    for mode, ls in lists.items():
        trees[mode], stats[mode] = fit_lists(ls, params)
    return LearnedRanking(trees), stats
