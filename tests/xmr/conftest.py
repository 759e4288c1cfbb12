"""The XR-Linear index of the production default (`tests/conftest.py`), with its log split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.dataset import SplitSessions


@dataclass(frozen=True)
class XmrFixture:
    path: Path
    data: SplitSessions


@pytest.fixture(scope="session")
def xmr_index(xmr_index_dir: Path, sample_split: SplitSessions) -> XmrFixture:
    return XmrFixture(xmr_index_dir, sample_split)
