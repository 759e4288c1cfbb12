"""Open an index directory and hand back the ranker its manifest names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from indexer.artifact import IndexFiles
from indexer.errors import IndexFormatError
from indexer.labels import LabelIndex

from .blend import BlendRanker, BlendWeights
from .candidates import CandidateGenerator
from .mpc import MPCRanker
from .ranking import Ranker
from .typo import TypoCorrector


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

    @property
    def supports_history(self) -> bool:
        return bool(getattr(self.ranker, "supports_history", False))


def generator_for(files: IndexFiles, labels: LabelIndex | None = None) -> CandidateGenerator:
    """The candidate sources over an index's label, ending and transition tables."""
    labels = labels or LabelIndex(files)
    return CandidateGenerator(
        labels,
        LabelIndex(files, "endings"),
        LabelIndex(files, "transitions"),
        typo=TypoCorrector(labels),
    )


def load_model(files: IndexFiles, labels: LabelIndex, mpc: MPCRanker | None = None) -> Any:
    """The session-aware label model named by the manifest, or None for "mpc"."""
    if files.model == "mpc":
        return None
    if files.model == "xmr":
        from .xmr_ranker import load_xmr_ranker

        return load_xmr_ranker(files, labels, mpc or MPCRanker(labels))
    raise IndexFormatError(f"{files.path}: unknown model {files.model!r} in manifest")


def load_index(
    path: str | os.PathLike[str],
    *,
    expect_fingerprint: str | None = None,
    blend: bool = True,
) -> LoadedIndex:
    """Verify the index, mmap arrays, build the ranker. Raises `IndexFormatError`.

    expect_fingerprint: None (default) verifies every checksum, reading every byte. The
        `files.fingerprint` of an index another process loaded (the server's supervisor)
        instead checks by stat() calls that these are still the files it verified, so N
        workers start without each reading the whole index. Either way the check is repeated
        once everything is mapped, so a file swapped in between is refused too.
    blend: an index with fitted blend weights serves the blended ranker; False serves the
        bare model (for benchmarks and ablations).
    """
    files = IndexFiles(path, expect_fingerprint=expect_fingerprint)
    labels = LabelIndex(files)
    mpc = MPCRanker(labels)
    model = load_model(files, labels, mpc)
    ranker: Ranker = model if model is not None else mpc
    if blend and files.has("blend"):
        raw = files.json("blend")
        if not isinstance(raw, dict):
            raise IndexFormatError(f"{files.path}/blend.json: expected an object of weights")
        ranker = BlendRanker(generator_for(files, labels), BlendWeights(raw), model)
    files.check_unchanged()
    return LoadedIndex(ranker, mpc, labels, files)
