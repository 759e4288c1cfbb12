"""What a replay measured: per session (`SessionOutcome`), and for the run (`ReplayReport`).

Pure accumulation. Quality goes through `QualityReport`, the evaluator's own metric code; a
keystroke that got no completions (lost, timed out or answered with an error) is scored as an
empty suggestion list, i.e. a miss, because that is what the user saw, and is also counted
under `errors`, so an outage shows in both quality and errors and never disappears.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.metrics import QualityReport, format_table


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p99/p999/mean/max of `values` (all 0.0 when there are none)."""
    if not len(values):
        return {"p50": 0.0, "p99": 0.0, "p999": 0.0, "mean": 0.0, "max": 0.0}
    a = np.asarray(values, dtype=np.float64)
    p50, p99, p999 = np.percentile(a, [50, 99, 99.9])
    return {
        "p50": float(p50),
        "p99": float(p99),
        "p999": float(p999),
        "mean": float(a.mean()),
        "max": float(a.max()),
    }


@dataclass
class QueryOutcome:
    query: str
    rr: list[float] = field(default_factory=list)  # per keystroke, in typing order


@dataclass
class SessionOutcome:
    """One replayed session. `lost`: keystrokes sent whose reply never came (connection
    closed or timed out); `answered`: keystrokes that got completions."""

    index: int
    session_id: str
    user: str
    k: int = 10
    quality: QualityReport = field(init=False)
    queries: list[QueryOutcome] = field(default_factory=list)
    keystrokes: int = 0
    answered: int = 0
    lost: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    submits: int = 0
    not_stored: int = 0
    rtt_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    index_versions: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.quality = QualityReport(self.k)

    def score(
        self,
        prefix: str,
        target: str,
        suggestions: Sequence[str],
        seen: bool,
        first: bool | None = None,
    ) -> None:
        """Score one keystroke's reply; `first`: it belongs to the session's first query
        (reported apart, as `evaluate` reports it)."""
        rr = self.quality.add(prefix, target, suggestions, seen, first)
        self.keystrokes += 1
        self.queries[-1].rr.append(rr)

    def to_json(self) -> dict[str, Any]:
        """One line of the per-session breakdown (`--out-jsonl`)."""
        overall = self.quality.to_dict()["all"].get("overall", {})
        return {
            "session": self.index,
            "id": self.session_id,
            "user": self.user,
            "queries": len(self.queries),
            "keystrokes": self.keystrokes,
            "answered": self.answered,
            "lost": self.lost,
            **{m: overall.get(m, 0.0) for m in ("mrr@10", "success@1", "success@10", "bleu4")},
            "errors": dict(sorted(self.errors.items())),
            "reconnects": self.reconnects,
            "not_stored": self.not_stored,
            "rtt_ms": {
                m: round(v, 3) for m, v in percentiles(self.rtt_ms).items() if m in ("p50", "max")
            },
            "detail": [{"query": q.query, "rr": [round(r, 4) for r in q.rr]} for q in self.queries],
        }


@dataclass
class ReplayReport:
    """The run's totals; `to_dict()` is the `--json` output and a `--baseline` file.

    quality has the shape of `autocomplete evaluate --json`'s "quality". `seen_known` is
    False when no index was given to look labels up in: then the "seen" set is empty.
    """

    url: str
    part: str
    k: int = 10
    seen_known: bool = False
    concurrency: int = 1
    quality_acc: QualityReport = field(init=False)
    sessions: int = 0
    queries: int = 0
    keystrokes: int = 0
    answered: int = 0
    lost: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    submits: int = 0
    not_stored: int = 0
    seconds: float = 0.0
    index_versions: set[str] = field(default_factory=set)
    _rtt: list[float] = field(default_factory=list)
    _server: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.quality_acc = QualityReport(self.k)

    def add(self, s: SessionOutcome) -> None:
        """Fold one session in; call in session order for bit-for-bit repeatable sums."""
        self.quality_acc.merge(s.quality)
        self.sessions += 1
        self.queries += len(s.queries)
        self.keystrokes += s.keystrokes
        self.answered += s.answered
        self.lost += s.lost
        self.errors.update(s.errors)
        self.reconnects += s.reconnects
        self.submits += s.submits
        self.not_stored += s.not_stored
        self.index_versions |= s.index_versions
        self._rtt.extend(s.rtt_ms)
        self._server.extend(s.server_ms)

    @property
    def quality(self) -> dict[str, Any]:
        q = self.quality_acc.to_dict()
        if not self.seen_known:
            q["seen"] = {}
        return q

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "part": self.part,
            "k": self.k,
            "seen_known": self.seen_known,
            "index": sorted(self.index_versions),
            "concurrency": self.concurrency,
            "sessions": self.sessions,
            "queries": self.queries,
            "keystrokes": self.keystrokes,
            "answered": self.answered,
            "lost": self.lost,
            "errors": dict(sorted(self.errors.items())),
            "error_total": sum(self.errors.values()),
            "reconnects": self.reconnects,
            "submits": self.submits,
            "not_stored": self.not_stored,
            "seconds": self.seconds,
            "keystrokes_per_s": self.keystrokes / self.seconds if self.seconds else 0.0,
            "latency_ms": percentiles(self._rtt),
            "server_took_ms": percentiles(self._server),
            "quality": self.quality,
        }


def format_report(d: dict[str, Any]) -> str:
    """The readable final table of a `ReplayReport.to_dict()`."""
    lat, srv = d["latency_ms"], d["server_took_ms"]
    title = (
        f"replay of {d['sessions']} {d['part']} sessions against {d['url']} "
        f"(index {', '.join(d['index']) or '?'}): {d['keystrokes']} keystrokes, "
        f"{d['keystrokes_per_s']:.0f}/s at concurrency {d['concurrency']}"
    )
    lines = [format_table(d["quality"], title)]
    if not d["seen_known"]:
        lines.append("seen  (not computed: pass --index DIR to look targets up in the labels)")
    lines.append(
        f"round trip ms: p50 {lat['p50']:.2f}  p99 {lat['p99']:.2f}  "
        f"p999 {lat['p999']:.2f}  max {lat['max']:.2f}   "
        f"(server ranking p50 {srv['p50']:.2f}  p99 {srv['p99']:.2f})"
    )
    errs = ", ".join(f"{c} {n}" for c, n in d["errors"].items()) or "none"
    lines.append(
        f"answered {d['answered']}/{d['keystrokes']} keystrokes, lost {d['lost']}; "
        f"errors: {errs}; reconnects {d['reconnects']}; "
        f"submits {d['submits']} ({d['not_stored']} not stored)"
    )
    return "\n".join(lines)
