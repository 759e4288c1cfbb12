"""The blend's features: one name per column, and the set of candidates one keystroke gathers.

Every candidate source (`generator`) writes its columns of a candidate's row; the blend
(`autocomplete.blend`) scores a row as `row @ weights[mode][bucket]`, with weights stored by
these names (`autocomplete.model.weights`). A source that did not see a candidate leaves the
column at its empty value: 0, or `LOG_FLOOR` for the log-probabilities.
"""

from __future__ import annotations

import numpy as np

from autocomplete.xmr_ranker import FEATURES as XMR_FEATURES

FEATURES: tuple[str, ...] = (
    "bias_label",  # 1 for a training query (label)
    "bias_generated",  # 1 for a never-seen query made by generation
    "label_logp",  # log P(label | prefix) among labels extending the prefix
    "label_logcount",  # log(1 + count) of the label
    "trans_logp",  # log P(next = candidate | previous query), with add-one backoff
    "trans_any",  # log(1 + count) of transitions from older session queries
    "gen_logp",  # log P(ending | typed context) of the best generation route
    "gen_context",  # words of typed context the generation route matched (0..3)/3
    "in_session",  # candidate was issued earlier in this session
    "is_prev",  # candidate is the session's latest query (the log never repeats one at once)
    "prev_word_share",  # share of the completed words that occur in the previous queries
    "extra_words",  # words added beyond the typed prefix
    "extra_chars",  # log(1 + characters added)
    "hist_logcount",  # log(1 + times the user issued it before)
    "hist_recency",  # exp(-days since the user last issued it / 30)
    "hist_present",  # 1 when the candidate is in the user's history
    "hist_logp",  # log share of the user's history extending the prefix that is this query
    "hist_age",  # log(1 + hours since the user last issued it); 0 when not in the history
    "hist_rank",  # log(1 + the user's queries extending the prefix issued after it)
    *XMR_FEATURES,  # the XR-Linear model's features of a label (0 without a model)
    "corrected",  # extends a spelling correction of the prefix, not the prefix
)
NF = len(FEATURES)
F = {name: i for i, name in enumerate(FEATURES)}
XMR_COLUMNS = slice(F[XMR_FEATURES[0]], F[XMR_FEATURES[-1]] + 1)

#: a candidate's label id not looked up yet (-1 is "not a label", as `LabelIndex.id_of` says)
UNKNOWN = -2
LOG_FLOOR = -12.0  # stands in for log(0) so weights stay finite
_EMPTY_ROW = [0.0] * NF
_EMPTY_ROW[F["label_logp"]] = _EMPTY_ROW[F["trans_logp"]] = _EMPTY_ROW[F["gen_logp"]] = LOG_FLOOR


class CandidateSet:
    """Candidates (text -> feature row) gathered for one keystroke.

    Rows are plain lists while sources fill them in (element writes on lists are several
    times cheaper than on small numpy arrays); the generator ends with `freeze(matrix)`.
    A source that found a candidate by its label id says so (`row(text, label)`), so the
    features need not look the text up again (`labels`: the id, or `UNKNOWN`).
    """

    __slots__ = ("texts", "rows", "labels", "_pos", "corrected", "_x")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.rows: list[list[float]] = []
        self.labels: list[int] = []
        self._pos: dict[str, int] = {}
        self._x: np.ndarray | None = None
        #: text -> the spelling variant of the prefix it extends (typo candidates only)
        self.corrected: dict[str, str] = {}

    def row(self, text: str, label: int = UNKNOWN) -> list[float]:
        i = self._pos.get(text)
        if i is not None:
            if label != UNKNOWN:
                self.labels[i] = label
            return self.rows[i]
        self._pos[text] = len(self.texts)
        self.texts.append(text)
        self.labels.append(label)
        r = _EMPTY_ROW.copy()
        self.rows.append(r)
        return r

    def __contains__(self, text: str) -> bool:
        return text in self._pos

    def index(self, text: str) -> int | None:
        """The row of `text`, or None when it is not a candidate."""
        return self._pos.get(text)

    def __len__(self) -> int:
        return len(self.texts)

    def freeze(self, x: np.ndarray) -> None:
        """Set the final feature matrix (the rows, with the set-wide features filled in)."""
        self._x = x

    def matrix(self) -> np.ndarray:
        """The feature matrix (candidates x FEATURES); final once the generator froze it."""
        if self._x is not None:
            return self._x
        return np.array(self.rows) if self.rows else np.zeros((0, NF))
