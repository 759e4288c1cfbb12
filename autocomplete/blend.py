"""The blended ranker: every candidate source scored by one learned linear function.

Scores are a softmax over the keystroke's candidates of `features @ w[bucket]`, where the
weight vector depends on how many characters were typed (the previous query matters most at
1-2 characters, popularity and generation later). Weights are fitted on the dev split
(`autocomplete.tuning`), stored in the index, never tuned on test.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.metrics import BUCKETS, bucket_of

from .candidates import FEATURES, NF, CandidateGenerator, CandidateSet, F, LabelModel
from .ranking import Completion

BUCKET_NAMES: tuple[str, ...] = tuple(name for name, _, _ in BUCKETS)


MODES = ("anonymous", "personal")


@dataclass(frozen=True)
class BlendWeights:
    """Weight vectors per mode and prefix-length bucket, over `FEATURES` by name.

    Two modes: "personal" for a user with history, "anonymous" for one without: the
    weights of popularity and context differ a lot once a person's own past is known.
    Stored by feature name so adding a feature never silently shifts old weights.
    """

    weights: dict[str, dict[str, dict[str, float]]]

    def matrix(self, mode: str) -> np.ndarray:
        w = np.zeros((len(BUCKET_NAMES), NF))
        for b, row in self.weights.get(mode, {}).items():
            if b not in BUCKET_NAMES:
                continue
            for name, v in row.items():
                if name in F:
                    w[BUCKET_NAMES.index(b), F[name]] = v
        return w

    @staticmethod
    def rows(w: np.ndarray) -> dict[str, dict[str, float]]:
        return {
            b: {f: float(w[i, j]) for j, f in enumerate(FEATURES)}
            for i, b in enumerate(BUCKET_NAMES)
        }

    @classmethod
    def default(cls) -> BlendWeights:
        """Popularity first, then generation: a sane ranking before any tuning."""
        w = np.zeros((len(BUCKET_NAMES), NF))
        w[:, F["label_logp"]] = 1.0
        w[:, F["gen_logp"]] = 0.5
        w[:, F["bias_generated"]] = -3.0
        w[:, F["trans_logp"]] = 0.5
        w[:, F["hist_logcount"]] = 1.0
        return cls({m: cls.rows(w) for m in MODES})


class BlendRanker:
    """Ranker over the blended candidate set; takes the user's personal history too."""

    supports_history = True

    def __init__(
        self, gen: CandidateGenerator, weights: BlendWeights, model: LabelModel | None = None
    ) -> None:
        self.gen = gen
        self.w = {m: weights.matrix(m) for m in MODES}
        self.model = model  # optional session-aware label scorer (adds "model_score")

    def gather(
        self,
        prev_queries: Sequence[str],
        prefix: str,
        history: Sequence[tuple[str, int, float]] = (),
        now: float | None = None,
    ) -> CandidateSet:
        return self.gen.gather(
            prev_queries, prefix, history, time.time() if now is None else now, self.model
        )

    def score(self, cs: CandidateSet, prefix: str, personal: bool) -> np.ndarray:
        w = self.w["personal" if personal else "anonymous"]
        return cs.matrix() @ w[BUCKET_NAMES.index(bucket_of(len(prefix)))]

    def complete(
        self,
        prev_queries: Sequence[str],
        prefix: str,
        k: int = 10,
        history: Sequence[tuple[str, int, float]] = (),
        now: float | None = None,
    ) -> list[Completion]:
        if k <= 0 or not prefix:
            return []
        cs = self.gather(prev_queries, prefix, history, now)
        if not len(cs):
            return []
        s = self.score(cs, prefix, bool(history))
        order = np.argsort(-s, kind="stable")
        if cs.corrected:
            order = _corrections_after_exact(order, cs)
        order = order[:k]
        p = np.exp(s - s.max())
        p /= p.sum()
        out = []
        x = cs.matrix()
        for i in order.tolist():
            r = x[i]
            text = cs.texts[i]
            src = "history" if r[_HIST] else ("generated" if r[_GEN] else "index")
            fix = cs.corrected.get(text)
            if fix is None:
                out.append(Completion(text, float(p[i]), src))
            else:
                out.append(Completion(text, float(p[i]), src, len(fix), True))
        # scores must fall with rank even where a correction was moved down
        for j in range(1, len(out)):
            if out[j].score > out[j - 1].score:
                out[j] = out[j]._replace(score=out[j - 1].score)
        return out


_HIST, _GEN, _LABEL = F["hist_present"], F["bias_generated"], F["bias_label"]


def _corrections_after_exact(order: np.ndarray, cs: CandidateSet) -> np.ndarray:
    """No spelling correction ranks above a known query or history item that extends the
    prefix as typed: what the user actually typed wins over a guess at what they meant."""
    idx = order.tolist()
    x = cs.matrix()
    exact = [i for i in idx if cs.texts[i] not in cs.corrected and (x[i, _LABEL] or x[i, _HIST])]
    if not exact:
        return order
    last_exact = max(idx.index(i) for i in exact)
    head = [i for i in idx[: last_exact + 1] if cs.texts[i] not in cs.corrected]
    moved = [i for i in idx[: last_exact + 1] if cs.texts[i] in cs.corrected]
    return np.array(head + moved + idx[last_exact + 1 :], dtype=order.dtype)
