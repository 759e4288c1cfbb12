"""Open an index directory and hand back the ranker its manifest names.

mpc: `MPCRanker`; xmr: `XMRRanker` (the bare model); either with fitted blend weights in the
index: the `BlendRanker` over every candidate source, with the XR-Linear model's candidates
and features when there is one. Each artifact is read by its owner in `autocomplete.model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from autocomplete.model.artifact import IndexFiles
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.labels import ENDINGS, TRANSITIONS, LabelIndex
from autocomplete.model.learned import LearnedRanking
from autocomplete.model.weights import BlendWeights
from autocomplete.model.wordlm import LM_LABELS, WordLM

from .blend import BlendRanker
from .candidates.generator import CandidateGenerator
from .mpc import MPCRanker
from .ranking import Ranker
from .typo.corrector import TypoCorrector
from .xmr_ranker import XMRRanker


@dataclass(frozen=True)
class LoadedIndex:
    """A ready ranker plus what the server announces about it."""

    ranker: Ranker
    mpc: MPCRanker
    labels: LabelIndex
    files: IndexFiles

    @property
    def version(self) -> str:
        return self.files.version

    @property
    def model(self) -> str:
        return self.files.model


def generator_for(files: IndexFiles, labels: LabelIndex | None = None) -> CandidateGenerator:
    """The candidate sources over an index's label, ending and transition tables."""
    labels = labels or LabelIndex.load(files)
    return CandidateGenerator(
        labels,
        LabelIndex.load(files, ENDINGS),
        LabelIndex.load(files, TRANSITIONS),
        typo=TypoCorrector(labels),
        lm=WordLM.load(files, len(labels)) if files.has(LM_LABELS) else None,
    )


def load_model(files: IndexFiles, labels: LabelIndex) -> XMRRanker | None:
    """The session-aware label model named by the manifest, or None for "mpc"."""
    if files.model == "mpc":
        return None
    if files.model == "xmr":
        return XMRRanker.load(files, labels)
    raise IndexFormatError(f"{files.path}: unknown model {files.model!r} in manifest")


def load_index(
    path: str | os.PathLike[str],
    *,
    expect_fingerprint: str | None = None,
    blend: bool = True,
    learned: bool = True,
) -> LoadedIndex:
    """Verify the index, mmap arrays, build the ranker. Raises `IndexFormatError`.

    expect_fingerprint: None (default) verifies every checksum, reading every byte. The
        `files.fingerprint` of an index another process loaded (the server's supervisor)
        instead checks by stat() calls that these are still the files it verified, so N
        workers start without each reading the whole index. Either way the check is repeated
        once everything is mapped, so a file swapped in between is refused too.
    blend: an index with fitted blend weights serves the blended ranker; False serves the
        bare model (for benchmarks and ablations).
    learned: an index with a learned ranking serves it on top of the blend; False serves
        the linear blend alone (for benchmarks and ablations).
    """
    files = IndexFiles(path, expect_fingerprint=expect_fingerprint)
    labels = LabelIndex.load(files)
    mpc = MPCRanker(labels)
    model = load_model(files, labels)
    ranker: Ranker = model if model is not None else mpc
    weights = BlendWeights.load(files) if blend else None
    if weights is not None:
        trees = LearnedRanking.load(files) if learned else None
        if trees is not None and not files.has(LM_LABELS):
            raise IndexFormatError(
                f"{files.path}: the learned ranking reads the word model's scores, and the "
                f"index has no {LM_LABELS}; rebuild it"
            )
        ranker = BlendRanker(generator_for(files, labels), weights, model, trees)
    files.check_unchanged()
    return LoadedIndex(ranker, mpc, labels, files)
