"""What a build reports: its manifest, how long it took, and the memory it peaked at."""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BuildReport:
    manifest: dict[str, Any]
    seconds: float
    peak_rss_mb: float


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
