"""The blended ranker against its peers on the shared time split, in one run.

Rows (every test keystroke before the query is complete, or the first --limit of them):
    MPC                 most popular completion (the baseline)
    transition rule     next queries seen after the previous query, then MPC
    personal rule       the user's own past queries, most frequent first, then MPC
    blend (anonymous)   our ranker without personal history: labels + transitions +
                        generated completions + session features, weights fitted on dev
    blend (personal)    the same with each user's history replayed in time order
    [xmr rows]          when --xmr-index is given: the bare XR-Linear ranker, and the blend on it
Ratios to MPC per prefix bucket, ranking latency p50/p99, build time.

    .venv/bin/python bench/blend_quality.py [--log ...] [--limit N] [--xmr-index DIR]

The index it builds without --index takes build-index's defaults, k-anonymity included
(K = 2); `bench/kanon.py` compares K values on this same scoring.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from peers import PersonalRule, TransitionRule  # noqa: E402

from autocomplete.evaluate import evaluate  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from indexer.dataset import load_split  # noqa: E402
from indexer.labels import LabelIndex  # noqa: E402
from indexer.metrics import BUCKETS  # noqa: E402
from indexer.sessions import Session  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
COLS = ["overall", *(b for b, _, _ in BUCKETS)]


def build(log: str, out: Path, *extra: str) -> float:
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autocomplete.cli",
            "build-index",
            "--log",
            log,
            "--out",
            str(out),
            "--quiet",
            *extra,
        ],
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - t


def score(
    rankers: Sequence[tuple[str, Any, Sequence[Session] | None]],
    test: Sequence[Session],
    is_label: Callable[[str], bool],
    limit: int | None = None,
) -> dict[str, dict[str, Any]]:
    """`evaluate` each (name, ranker, past sessions or None) on the same test keystrokes."""
    rows: dict[str, dict[str, Any]] = {}
    for name, r, p in rankers:
        res = evaluate(r, test, is_label, limit=limit, past=p)
        rows[name] = res.to_dict()
        print(
            f"{name}: {res.examples} keystrokes in {res.seconds:.0f}s", file=sys.stderr, flush=True
        )
    return rows


def table(rows: dict[str, dict[str, Any]], baseline: str = "MPC") -> str:
    """MRR@10 per bucket of every row, each followed by its ratio to the `baseline` row."""
    base = rows[baseline]["quality"]["all"]
    head = f"{'ranker':<22}" + "".join(f"{c:>9}" for c in COLS) + f"{'p50us':>8}{'p99us':>8}"
    lines = [f"MRR@10 (all targets), ratio to {baseline} below each row", head]
    for name, r in rows.items():
        q = r["quality"]["all"]
        lines.append(
            f"{name:<22}"
            + "".join(f"{q[c]['mrr@10']:>9.4f}" for c in COLS)
            + f"{r['latency_us']['p50']:>8.0f}{r['latency_us']['p99']:>8.0f}"
        )
        lines.append(
            f"{'':<22}" + "".join(f"{q[c]['mrr@10'] / base[c]['mrr@10']:>8.2f}x" for c in COLS)
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--index", help="reuse a blended index built from --log (default: build one)")
    ap.add_argument("--xmr-index", help="also score an XMR index (bare and blended)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/blend_quality.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        meta: dict[str, Any] = {}
        path = Path(args.index) if args.index else Path(tmp) / "blend"
        if not args.index:
            meta["build_s"] = build(args.log, path, "--model", "mpc")
        idx = load_index(path)
        bare = load_index(path, blend=False)
        data = load_split([args.log])
        past = data.train + data.dev
        is_label = lambda t: idx.labels.id_of(t) >= 0  # noqa: E731
        rankers: list[tuple[str, Any, Any]] = [
            ("MPC", bare.ranker, None),
            (
                "transition rule",
                TransitionRule(LabelIndex(idx.files, "transitions"), bare.mpc),
                None,
            ),
            ("personal rule", PersonalRule(bare.mpc), past),
            ("blend (anonymous)", idx.ranker, None),
            ("blend (personal)", idx.ranker, past),
        ]
        if args.xmr_index:
            xb = load_index(args.xmr_index, blend=False)
            xi = load_index(args.xmr_index)
            rankers += [
                ("xmr (bare)", xb.ranker, None),
                ("xmr+blend (anonymous)", xi.ranker, None),
                ("xmr+blend (personal)", xi.ranker, past),
            ]
        rows = score(rankers, data.test, is_label, args.limit)
    print(table(rows))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
