"""Offline `evaluate` and online `replay` on the same sessions, side by side.

    autocomplete serve --index IDX --port 8765 &          # QAC_RATE_PER_S high, see below
    python bench/replay_vs_evaluate.py --url ws://127.0.0.1:8765/ws --index IDX \\
        --log LOG --sessions 2000 --concurrency 8 --out results/replay_vs_evaluate.json

Prints both tables, the largest per-cell difference, and round-trip latency. Exit 1 when
the quality dicts differ by more than 1e-9 anywhere (they should not: same sessions, same
index, same metric code). Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from autocomplete.evaluate import evaluate
from autocomplete.loader import load_index
from autocomplete.replay.outcome import format_report
from autocomplete.replay.plan import new_run_id, plan_sessions
from autocomplete.replay.runner import ReplaySettings, run_replay
from indexer.dataset import load_split
from indexer.metrics import format_table


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[float, str]]:
    out = []
    for g in sorted(set(a) | set(b)):
        for bucket in sorted(set(a.get(g, {})) | set(b.get(g, {}))):
            ra, rb = a.get(g, {}).get(bucket, {}), b.get(g, {}).get(bucket, {})
            for m in sorted(set(ra) | set(rb)):
                va, vb = ra.get(m, float("nan")), rb.get(m, float("nan"))
                d = abs(va - vb)
                if not d <= 1e-9:
                    out.append((d, f"{g}/{bucket}/{m}: evaluate {va} replay {vb}"))
    return sorted(out, reverse=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--log", nargs="+", required=True)
    ap.add_argument("--part", default="test")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", help="write both reports here as JSON")
    args = ap.parse_args()

    idx = load_index(args.index)

    def is_seen(t: str) -> bool:
        return idx.labels.id_of(t) >= 0

    sessions = load_split(args.log).part(args.part)[: args.sessions]
    plans = plan_sessions(sessions, new_run_id())
    total = sum(p.keystrokes for p in plans)
    with tqdm(total=total, desc="evaluate", unit="kst", leave=False) as bar:
        off = evaluate(idx.ranker, sessions, is_seen, progress=bar.update)
    with tqdm(total=total, desc="replay", unit="kst", leave=False) as bar:
        report, _ = run_replay(
            args.url,
            plans,
            ReplaySettings(args.concurrency, args.part, True),
            is_seen,
            progress=bar.update,
        )
    on = report.to_dict()
    print(
        format_table(
            off.quality,
            f"evaluate (offline, in-process) {idx.model} index "
            f"{idx.version}: {len(sessions)} {args.part} sessions, "
            f"{off.examples} keystrokes, ranking p50 "
            f"{off.latency_us['p50']:.0f}us p99 "
            f"{off.latency_us['p99']:.0f}us",
        )
    )
    print()
    print(format_report(on))
    diffs = differences(off.quality, on["quality"])
    print()
    print(
        "offline/online agreement:",
        "identical (every cell within 1e-9)" if not diffs else f"{len(diffs)} cells differ",
    )
    for _, line in diffs[:10]:
        print("  ", line)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"evaluate": {"index": idx.version, **off.to_dict()}, "replay": on}, f, indent=1
            )
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
