"""The blended ranker: every candidate source scored by one learned linear function.

Scores are a softmax over the keystroke's candidates of `features @ w[mode][bucket]`: the
weights depend on how many characters were typed (`autocomplete.model.buckets`) and on
whether the user's history is known ("personal") or not ("anonymous"). They are fitted on
the dev split when the index is built (`autocomplete.fit`) and stored in it
(`autocomplete.model.weights`), never tuned on test. An index with a learned ranking adds
boosted trees' corrections to the linear scores (`autocomplete.model.learned`), fitted on
the same dev keystrokes.
"""

from __future__ import annotations

import numpy as np

from autocomplete.model.buckets import bucket_index
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.learned import KEYSTROKE_FEATURES, LearnedRanking, keystroke_rows
from autocomplete.model.memo import MemoStats
from autocomplete.model.weights import MODES, BlendWeights

from .candidates.generator import CandidateGenerator, LabelModel
from .candidates.schema import FEATURES, CandidateSet, F
from .ranking import Completion, Context


class BlendRanker:
    """Ranker over the blended candidate set. `model`: the XR-Linear ranker of an xmr index
    (its candidates and features join the blend), None for an MPC index. `learned`: trees
    that correct the linear blend's scores (`autocomplete.model.learned`); None serves the
    linear blend alone."""

    def __init__(
        self,
        gen: CandidateGenerator,
        weights: BlendWeights,
        model: LabelModel | None = None,
        learned: LearnedRanking | None = None,
    ) -> None:
        self.gen = gen
        self.w = {m: weights.matrix(m, FEATURES) for m in MODES}
        self.model = model
        self._trees = {}
        if learned is not None:
            for mode, trees in learned.trees.items():
                if trees.features != TREE_FEATURES:
                    raise IndexFormatError(
                        f"the {mode} trees read features {list(trees.features)}, this version "
                        f"computes {list(TREE_FEATURES)}: rebuild the index with this version"
                    )
            self._trees = dict(learned.trees)

    def memo_stats(self) -> dict[str, MemoStats]:
        """Every memo the ranker keeps, by name: the candidate sources' and the model's."""
        out = self.gen.memo_stats()
        if self.model is not None:
            out.update(self.model.memo_stats())
        return out

    def gather(self, context: Context, prefix: str, need: int | None = None) -> CandidateSet:
        """The keystroke's candidates; `need`: only the best `need` will be read (the
        generator may then skip sources that cannot reach them)."""
        return self.gen.gather(context, prefix, self.model, need)

    def score(
        self, cs: CandidateSet, prefix: str, personal: bool, first: bool = False
    ) -> np.ndarray:
        """Each candidate's score: the linear blend, plus the learned trees' correction when
        the index has them. `first`: the keystroke belongs to the session's first query."""
        mode = "personal" if personal else "anonymous"
        x = cs.matrix()
        s = x @ self.w[mode][bucket_index(len(prefix))]
        trees = self._trees.get(mode)
        if trees is not None:
            s += trees.score(keystroke_rows(x, len(prefix), first))
        return s

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        if k <= 0 or not prefix:
            return []
        cs = self.gather(context, prefix, k)
        return self.best(cs, prefix, bool(context.history), k, first=not context.previous)

    def best(
        self, cs: CandidateSet, prefix: str, personal: bool, k: int, first: bool = False
    ) -> list[Completion]:
        """The best `k` of a gathered set, scored (softmax over the set), best first."""
        if not len(cs):
            return []
        s = self.score(cs, prefix, personal, first)
        order = np.argsort(-s, kind="stable")
        if cs.corrected:
            order = _corrections_after_exact(order, cs)
        order = order[:k]
        p = np.exp(s - s.max())
        p /= p.sum()
        x = cs.matrix()
        texts, corrected = cs.texts, cs.corrected
        out = []
        # one array read per column for the k rows, not three numpy scalars per row
        for i, prob, hist, gen in zip(
            order.tolist(),
            p[order].tolist(),
            x[order, _HIST].tolist(),
            x[order, _GEN].tolist(),
            strict=True,
        ):
            text = texts[i]
            src = "history" if hist else ("generated" if gen else "index")
            fix = corrected.get(text)
            if fix is None:
                out.append(Completion(text, prob, src))
            else:
                out.append(Completion(text, prob, src, len(fix), True))
        # scores must fall with rank even where a correction was moved down
        for j in range(1, len(out)):
            if out[j].score > out[j - 1].score:
                out[j] = out[j]._replace(score=out[j - 1].score)
        return out


TREE_FEATURES = (*FEATURES, *KEYSTROKE_FEATURES)
_HIST, _GEN, _LABEL = F["hist_present"], F["bias_generated"], F["bias_label"]


def _corrections_after_exact(order: np.ndarray, cs: CandidateSet) -> np.ndarray:
    """No spelling correction ranks above a known query or history item that extends the
    prefix as typed: what the user actually typed wins over a guess at what they meant."""
    idx = order.tolist()
    x = cs.matrix()
    fixed = [cs.texts[i] in cs.corrected for i in idx]
    known = ((x[order, _LABEL] != 0) | (x[order, _HIST] != 0)).tolist()
    exact = [j for j, (f, kn) in enumerate(zip(fixed, known, strict=True)) if kn and not f]
    if not exact:
        return order
    last_exact = exact[-1]  # positions in rank order: the last is the lowest-ranked
    head = [i for i, f in zip(idx[: last_exact + 1], fixed, strict=False) if not f]
    moved = [i for i, f in zip(idx[: last_exact + 1], fixed, strict=False) if f]
    return np.array(head + moved + idx[last_exact + 1 :], dtype=order.dtype)
