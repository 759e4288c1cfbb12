"""`autocomplete replay`: real sessions typed keystroke by keystroke against a live server.

plan (sessions -> keystrokes, pure) -> client (one session over one WebSocket) -> runner
(many sessions at once, in-order aggregation) -> outcome (metrics, latency, JSON) -> gate
(comparison with a saved run). Quality is scored by `indexer.metrics.QualityReport`, the code
`autocomplete evaluate` uses, on the keystrokes `indexer.sessions.query_examples` yields.
"""

from .errors import BaselineError, ReplayError, ServerGone, ServerUnreachable
from .gate import GateLimits, GateResult, compare
from .outcome import ReplayReport, SessionOutcome
from .plan import SessionPlan, plan_sessions
from .runner import ReplaySettings, replay_sessions, run_replay

__all__ = [
    "BaselineError",
    "GateLimits",
    "GateResult",
    "ReplayError",
    "ReplayReport",
    "ReplaySettings",
    "ServerGone",
    "ServerUnreachable",
    "SessionOutcome",
    "SessionPlan",
    "compare",
    "plan_sessions",
    "replay_sessions",
    "run_replay",
]
