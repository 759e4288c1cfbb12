"""Settings of the session-aware XR-Linear ranker, typed and frozen, split by phase.

`XMRParams` is stored in the index manifest (inside `BuildParams.xmr`): it says how the
featuriser, the hybrid trie-tree and the per-level rankers were built. `RankParams` says how
the runtime searches and blends; its defaults are written next to the model at build time
(`xmr_rank.json`) and may be overridden when loading. The blend weights in `RankParams` were
tuned on the DEV split of the shared AOL log (`bench/quality.py --tune`), never on test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

LOSSES = ("softmax", "sqhinge", "logistic")
COMBINES = ("softmax", "l3hinge", "sigmoid")
#: the path-score combination each loss is trained for
COMBINE_OF_LOSS = {"softmax": "softmax", "sqhinge": "l3hinge", "logistic": "sigmoid"}


@dataclass(frozen=True)
class XMRParams:
    """How `build-index --model xmr` builds the featuriser, the index and the rankers.

    Featuriser (also used at serving time, so these fix the model's input space):
    ngram_max: char n-grams of length 1..ngram_max (1..5; default 3).
    position_decay: an n-gram starting at char position i gets weight 1/(i+1)**position_decay;
        1.0 is the paper's prefix weighting, 0.0 turns it off (plain char TF-IDF).
    word_start_boost: extra multiplier for n-grams that start a word (>= 1; 1 = off).
    session_weight: weight of the previous-query word block against the prefix block before
        the joint l2 normalisation (0 = session features off).
    context_window: how many previous session queries feed the word block (>= 1; the most
        recent has weight 1, the one before `context_decay`, then `context_decay**2`, ...).
    context_decay: see context_window (0..1; 0 = previous query only).
    start_token: a session's first query gets a "<start>" word, so the model can learn which
        queries begin sessions. Off by default: the model then learns P(query | session
        start), which on DEV ranks first queries worse than plain popularity does.

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

    ngram_max: int = 3
    position_decay: float = 1.0
    word_start_boost: float = 2.0
    session_weight: float = 1.0
    context_window: int = 1
    context_decay: float = 0.0
    start_token: bool = False
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
        if not 1 <= self.ngram_max <= 5:
            raise ValueError(f"ngram_max must be in 1..5, got {self.ngram_max}")
        if self.position_decay < 0:
            raise ValueError(f"position_decay must be >= 0, got {self.position_decay}")
        if self.word_start_boost < 1:
            raise ValueError(f"word_start_boost must be >= 1, got {self.word_start_boost}")
        if self.session_weight < 0:
            raise ValueError(f"session_weight must be >= 0, got {self.session_weight}")
        if self.context_window < 1 or not 0 <= self.context_decay <= 1:
            raise ValueError("context_window must be >= 1 and context_decay in [0, 1]")
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> XMRParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})


#: per prefix-length bucket weights, for lengths 1, 2, 3, 4-5, 6-10, 11+ (see `RankParams`)
BUCKET_BOUNDS = (1, 2, 3, 5, 10)


def bucket_index(prefix_len: int) -> int:
    """0..5: the `RankParams` weight row used for a prefix of this length (0 chars -> row 0)."""
    for i, b in enumerate(BUCKET_BOUNDS):
        if prefix_len <= b:
            return i
    return len(BUCKET_BOUNDS)


#: the blend's inputs per candidate label (see `autocomplete.xmr_ranker.XMRRanker.features`)
FEATURES = (
    "path",  # the model: log P(label | x) below the prefix's common ancestor
    "log_count",  # log training count
    "log1p_trans",  # log(1 + times the label followed the previous query in training)
    "prev_overlap",  # cosine of word TF-IDF: previous query vs label
    "context_overlap",  # same, against the last `OVERLAP_WINDOW` queries of the session together
    "log1p_trans_older",  # max log(1 + transitions) from the 2nd..4th most recent queries
    "in_session",  # 1 when the label was issued earlier in this session
)
#: which weight table a keystroke uses: no previous query; a previous query none of whose
#: training successors extends the prefix; a previous query with such a successor
CONDITIONS = ("no_prev", "prev", "prev_known")
OVERLAP_WINDOW = 4


def _table(rows: dict[str, tuple[float, ...]]) -> tuple[tuple[tuple[float, ...], ...], ...]:
    """weights[condition][bucket][feature] from {condition: per-feature weights} (all buckets)."""
    nb = len(BUCKET_BOUNDS) + 1
    return tuple(tuple(tuple(float(v) for v in rows[c]) for _ in range(nb)) for c in CONDITIONS)


#: tuned on DEV (every 2nd keystroke, default XMRParams) with `bench/quality.py --tune`;
#: rows: buckets 1, 2, 3, 4-5, 6-10, 11+; columns: FEATURES
_TUNED: tuple[tuple[tuple[float, ...], ...], ...] = (
    (  # no_prev
        (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (0.1, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (0.25, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (0.25, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    (  # prev
        (0.0, 0.1, 0.0, 0.1, 1.0, 1.0, 8.0),
        (0.1, 0.1, 0.0, 1.0, 1.0, 1.0, 2.0),
        (0.0, 0.25, 0.0, 0.25, 2.0, 1.0, 2.0),
        (0.0, 0.25, 0.0, 1.0, 1.0, 0.5, 2.0),
        (0.0, 0.25, 0.0, 1.0, 1.0, 0.5, 1.0),
        (0.0, 2.0, 0.0, 0.0, 8.0, 2.0, 1.0),
    ),
    (  # prev_known
        (0.0, 0.1, 8.0, 0.0, 1.0, 0.5, 4.0),
        (2.0, 0.5, 8.0, 0.5, 4.0, 1.0, 4.0),
        (0.1, 0.1, 1.0, 0.0, 0.1, 1.0, 1.0),
        (1.0, 0.0, 2.0, 0.0, 2.0, 1.0, 1.0),
        (8.0, 1.0, 0.0, 1.0, 4.0, 4.0, 8.0),
        (0.25, 4.0, 2.0, 0.0, 0.0, 1.0, 1.0),
    ),
)


@dataclass(frozen=True)
class RankParams:
    """How the runtime searches the tree and blends the scores of a candidate label.

    beam: beam width of the tree search (>= 1).
    exact_threshold: when at most this many labels extend the prefix, all of them are scored
        exactly instead of beam-searched (0 = always beam search). Scoring a contiguous
        range exactly is cheaper than a beam that reaches most of it: at two characters a
        beam of 20 reached ~1,900 of ~2,500 labels. On DEV (75,051 keystrokes of 1-3
        characters) 1000 and 4000 give the same MRR to four decimals; 4000 cuts the p99.
    pool: when beam-searching, this many most popular labels extending the prefix join the
        candidates if popularity has weight in the blend (the session's suggestions always
        join, the beam only if the path score has weight). On DEV this candidate set
        reaches the exact ranking's MRR at 1-2 characters within 0.0002.
    combine: how a level's raw score s becomes a log-probability along the path: "softmax"
        (log-softmax over the valid siblings, for softmax-trained models), "l3hinge"
        (-max(0, 1-s)**3, PECOS's post-processor for hinge losses) or "sigmoid"; None (the
        default) uses the one the model was trained for.
    weights: weights[condition][bucket][feature]: the final score of a candidate is its
        `FEATURES` row dotted with the weights of the keystroke's condition (`CONDITIONS`)
        and prefix-length bucket (1, 2, 3, 4-5, 6-10, 11+). Tuned on DEV, never on test.
    """

    beam: int = 20
    exact_threshold: int = 4000
    pool: int = 32
    combine: str | None = None
    weights: tuple[tuple[tuple[float, ...], ...], ...] = field(default=_TUNED)

    def __post_init__(self) -> None:
        if self.beam < 1 or self.exact_threshold < 0 or self.pool < 0:
            raise ValueError("beam must be >= 1, exact_threshold and pool >= 0")
        if self.combine is not None and self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {self.combine!r}")
        shape = (len(CONDITIONS), len(BUCKET_BOUNDS) + 1, len(FEATURES))
        w = self.weights
        if len(w) != shape[0] or any(
            len(b) != shape[1] or any(len(r) != shape[2] for r in b) for b in w
        ):
            raise ValueError(f"weights must be [condition][bucket][feature] of shape {shape}")

    def with_weights(self, rows: dict[str, tuple[float, ...]]) -> RankParams:
        """The same settings with one weight row per condition, for every bucket."""
        from dataclasses import replace

        return replace(self, weights=_table(rows))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> RankParams:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in (d or {}).items() if k in known}
        if "weights" in d:
            d["weights"] = tuple(tuple(tuple(float(x) for x in r) for r in b) for b in d["weights"])
        return cls(**d)
