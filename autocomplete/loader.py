"""Open an index directory and hand back the ranker its manifest names."""

from __future__ import annotations

import os
from dataclasses import dataclass

from indexer.artifact import IndexFiles
from indexer.errors import IndexFormatError
from indexer.labels import LabelIndex

from .mpc import MPCRanker
from .ranking import Ranker


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


def load_index(path: str | os.PathLike[str], *, verify: bool = True) -> LoadedIndex:
    """Verify checksums, mmap arrays, build the ranker. Raises `IndexFormatError`."""
    files = IndexFiles(path, verify=verify)
    labels = LabelIndex(files)
    mpc = MPCRanker(labels)
    ranker: Ranker
    if files.model == "mpc":
        ranker = mpc
    elif files.model == "xmr":
        from .xmr_ranker import load_xmr_ranker

        ranker = load_xmr_ranker(files, labels, mpc)
    else:
        raise IndexFormatError(f"{files.path}: unknown model {files.model!r} in manifest")
    return LoadedIndex(ranker, mpc, labels, files)
