"""Build settings of the session-aware XR-Linear model, typed and frozen.

`XMRParams` is stored in the index manifest (inside `BuildParams.xmr`): it says how the
featuriser, the hybrid trie-tree and the per-level rankers were built. How the runtime
searches the model is `autocomplete.model.xmr.RankParams`, stored with the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from autocomplete.model.featurizer import FeaturizerParams

LOSSES = ("softmax", "sqhinge", "logistic")
#: the path-score combination (`autocomplete.model.xmr.combine`) each loss is trained for
COMBINE_OF_LOSS = {"softmax": "softmax", "sqhinge": "l3hinge", "logistic": "sigmoid"}


@dataclass(frozen=True)
class XMRParams:
    """How `build-index --model xmr` builds the featuriser, the index and the rankers.

    featurizer: what the input x is made of (`FeaturizerParams`; stored with the model too,
        since the server featurises every keystroke the same way).

    Index:
    depth: trie levels on the labels' first characters above the k-means levels (0..3).
    branching: children per k-means node (power of two >= 2; built by balanced bisection).
    max_leaf: at most this many labels under one lowest k-means node (>= 2).
    kmeans_iters: spherical 2-means iterations per bisection.
    pifa: label embedding = [char TF-IDF of the label ; PIFA (mean input of its examples)]
        instead of the char TF-IDF alone.
    seed: seeds k-means and the prefix sampling; a build is deterministic given its inputs.

    Rankers:
    max_prefix_len: every proper prefix of a training query up to this length is an example
        (longer prefixes are where the trie alone nearly decides; one more is sampled).
    loss: "softmax" (default): each node's children form a multinomial logistic model over
        the children that hold a label extending the prefix (a hierarchical softmax: path
        scores are log-probabilities, comparable across subtrees of any depth); or PECOS's
        one-vs-rest "sqhinge" (L2-loss SVM, its default) or "logistic".
    null_class: softmax only: every node's softmax also holds a fixed "not below this node"
        logit 0, the class of the matcher-aware negatives.
    prior: softmax only: each child's logit carries the fixed offset log(training count of
        the labels below it), so the weights learn what the session and prefix change about
        popularity, and regularisation shrinks toward popularity instead of toward uniform.
    cost: the loss weight C (the L2 regulariser has weight 1/2).
    newton_iters / cg_iters: the batched Newton-CG solver's outer / inner iterations.
    hard_negatives: matcher-aware negatives: the model's own top wrong nodes per example
        at the level above (0 = teacher-forced siblings only).
    prune: weights with |w| below this are dropped after training (PECOS's threshold 0.1).
    workers: processes fitting the nodes of a level in parallel (0 = one per CPU); the
        result does not depend on it.
    """

    featurizer: FeaturizerParams = field(default_factory=FeaturizerParams)
    depth: int = 2
    branching: int = 16
    max_leaf: int = 100
    kmeans_iters: int = 8
    pifa: bool = True
    seed: int = 0
    max_prefix_len: int = 8
    loss: str = "softmax"
    null_class: bool = True
    prior: bool = True
    cost: float = 1.0
    newton_iters: int = 6
    cg_iters: int = 12
    hard_negatives: int = 2
    prune: float = 0.1
    workers: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.depth <= 3:
            raise ValueError(f"depth must be in 0..3, got {self.depth}")
        if self.branching < 2 or self.branching & (self.branching - 1):
            raise ValueError(f"branching must be a power of two >= 2, got {self.branching}")
        if self.max_leaf < 2:
            raise ValueError(f"max_leaf must be >= 2, got {self.max_leaf}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.cost <= 0 or self.prune < 0 or self.hard_negatives < 0:
            raise ValueError("cost must be > 0, prune >= 0, hard_negatives >= 0")
        if self.max_prefix_len < 1 or self.newton_iters < 1 or self.cg_iters < 1:
            raise ValueError("max_prefix_len, newton_iters and cg_iters must be >= 1")

    @property
    def combine(self) -> str:
        """How the runtime combines level scores along a path: the one `loss` trains for."""
        return COMBINE_OF_LOSS[self.loss]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> XMRParams:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in (d or {}).items() if k in known}
        return cls(**{**d, "featurizer": FeaturizerParams.from_json(d.get("featurizer"))})
