"""Regression gate: compare a replay report with a saved one (`--baseline old.json`).

Pure over the `--json` dicts. Two checks: MRR@10 of the "all" set must not drop by more than
`max_mrr_drop` (absolute), and round-trip p99 must not rise by more than `max_p99_rise`
(relative: 0.5 is +50%). A baseline from `autocomplete evaluate --json` has no round-trip
latency: the latency check is then skipped, with a note.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .errors import BaselineError


@dataclass(frozen=True)
class GateLimits:
    max_mrr_drop: float = 0.005
    max_p99_rise: float = 0.5

    def __post_init__(self) -> None:
        if self.max_mrr_drop < 0 or self.max_p99_rise < 0:
            raise ValueError(f"gate limits must be >= 0, got {self}")


@dataclass(frozen=True)
class Check:
    name: str
    baseline: float
    current: float
    passed: bool
    message: str


@dataclass(frozen=True)
class GateResult:
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "notes": list(self.notes),
            "checks": [
                {
                    "name": c.name,
                    "baseline": c.baseline,
                    "current": c.current,
                    "passed": c.passed,
                    "message": c.message,
                }
                for c in self.checks
            ],
        }

    def summary(self) -> str:
        lines = [f"{'ok  ' if c.passed else 'FAIL'} {c.message}" for c in self.checks]
        lines += [f"note {n}" for n in self.notes]
        verdict = (
            "passed" if self.passed else f"FAILED ({len(self.failures)} of {len(self.checks)})"
        )
        return "\n".join([f"regression gate {verdict}:", *lines])


def _mrr(report: dict[str, Any], what: str) -> float:
    try:
        return float(report["quality"]["all"]["overall"]["mrr@10"])
    except (KeyError, TypeError, ValueError):
        raise BaselineError(f"{what} has no quality.all.overall.mrr@10") from None


def _p99(report: dict[str, Any]) -> float | None:
    lat = report.get("latency_ms")
    if not isinstance(lat, dict) or not isinstance(lat.get("p99"), int | float):
        return None
    return float(lat["p99"])


def compare(
    current: dict[str, Any], baseline: dict[str, Any], limits: GateLimits = GateLimits()
) -> GateResult:
    """Check `current` against `baseline` (both `replay --json` dicts)."""
    notes = []
    old, new = _mrr(baseline, "the baseline"), _mrr(current, "this run")
    drop = old - new
    checks = [
        Check(
            "mrr@10",
            old,
            new,
            drop <= limits.max_mrr_drop,
            f"MRR@10 {old:.4f} -> {new:.4f} ({-drop:+.4f}; allowed drop {limits.max_mrr_drop:g})",
        )
    ]
    old_p99, new_p99 = _p99(baseline), _p99(current)
    if old_p99 is None or new_p99 is None:
        notes.append("latency not compared: the baseline has no round-trip p99 (latency_ms.p99)")
    else:
        if old_p99 > 0:
            rise = (new_p99 - old_p99) / old_p99
        else:
            rise = 0.0 if new_p99 <= 0 else float("inf")
        checks.append(
            Check(
                "p99",
                old_p99,
                new_p99,
                rise <= limits.max_p99_rise,
                f"round-trip p99 {old_p99:.2f} ms -> {new_p99:.2f} ms ({rise:+.0%}; "
                f"allowed rise {limits.max_p99_rise:.0%})",
            )
        )
    n_old = baseline.get("keystrokes", baseline.get("examples"))
    n_new = current.get("keystrokes")
    if n_old is not None and n_new is not None and n_old != n_new:
        notes.append(
            f"the baseline scored {n_old} keystrokes and this run {n_new}: "
            "different workloads (other --sessions, --part or log?)"
        )
    return GateResult(tuple(checks), tuple(notes))


def load_baseline(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A saved `replay --json` (or `evaluate --json`) report; `BaselineError` otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise BaselineError(
            f"cannot read baseline {os.fspath(path)!r}: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise BaselineError(f"baseline {os.fspath(path)!r} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"baseline {os.fspath(path)!r} is not a saved report (not an object)")
    _mrr(data, f"baseline {os.fspath(path)!r}")
    return data
