"""Which keystrokes are slow, and where their time goes: the tail of in-process ranking.

Consecutive test keystrokes (as a typist sends them), each with the user's history handed
over as the server does (`PrefixHistory`), ranked in one process with the loaded heap frozen
(as a served worker's is). Every keystroke is ranked twice in a row: the first call finds the
memos as the stream left them (what a user meets); the second finds every memo holding this
keystroke's answers (the floor no memo can take away). Reports:

- percentiles of first and second calls, and the share over `--budget-us`, by prefix length
  and by whether the session has a previous query;
- the slowest 1% of first calls: which per-prefix memos missed, and the mean wall time per
  part, from a second pass over the same keystrokes with each part timed (parts nest:
  `gather` holds the candidate sources; the timing adds a little to every part).

    .venv/bin/python bench/tail.py --index DIR [--keystrokes 20000] [--budget-us 1000]

Writes bench/results/tail.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete import blend, xmr_ranker  # noqa: E402
from autocomplete.candidates import generator  # noqa: E402
from autocomplete.history import keystrokes_with_history, served  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from autocomplete.model import trees, wordlm, xmr  # noqa: E402
from autocomplete.typo import corrector  # noqa: E402
from indexer.dataset import load_split  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
#: (class, method) timed in the second pass, reported as "Class.method"
PARTS = [
    *(
        (generator.CandidateGenerator, name)
        for name in (
            "gather",
            "_exact",
            "_typo_blocks",
            "_labels",
            "_generated",
            "_finish_prefix",
            "_finish_context",
            "_transitions",
            "_history",
            "_typos",
        )
    ),
    (corrector.TypoCorrector, "spellings"),
    (wordlm.WordLM, "of_candidates"),
    (blend.BlendRanker, "score"),
    (blend.BlendRanker, "best"),
    (trees.TreeEnsemble, "score"),
    *(
        (xmr_ranker.XMRKeystroke, name)
        for name in ("candidates", "session_candidates", "features", "_described")
    ),
    (xmr.XMRModel, "path_scores"),
]
LENGTHS = [(1, 1), (2, 2), (3, 5), (6, 10), (11, 10**6)]


def length_name(a: int, b: int) -> str:
    return f"{a}-{b}" if b < 10**6 else f"{a}+"


def timed(spent: dict[str, float]) -> Callable[[], None]:
    """Wrap every part to add its wall time to `spent`; returns the undo."""
    saved = []
    for cls, name in PARTS:
        f = cls.__dict__[name]
        label = f"{cls.__name__}.{name}"

        def w(*a: Any, _f: Any = f, _label: str = label, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - t

        setattr(cls, name, functools.wraps(f)(w))
        saved.append((cls, name, f))

    def undo() -> None:
        for cls, name, f in saved:
            setattr(cls, name, f)

    return undo


def summary(us: np.ndarray, budget: float) -> dict[str, float]:
    p50, p90, p99 = np.percentile(us, [50, 90, 99]) if len(us) else (0.0, 0.0, 0.0)
    return {
        "n": int(len(us)),
        "mean": float(us.mean()) if len(us) else 0.0,
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "over_budget": float((us > budget).mean()) if len(us) else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--keystrokes", type=int, default=20_000)
    ap.add_argument("--budget-us", type=float, default=1000.0)
    ap.add_argument("--out", default=str(ROOT / "bench/results/tail.json"))
    args = ap.parse_args()

    data = load_split([args.log])
    stream = served(keystrokes_with_history(data.train + data.dev, data.test))
    cases = [(ex.prefix, ctx) for ex, ctx in itertools.islice(stream, 0, args.keystrokes)]

    # pass 1: each keystroke twice, nothing timed but the calls
    ranker = load_index(args.index).ranker
    gen = ranker.gen
    gc.collect()
    gc.freeze()
    first, again, missed = [], [], []
    clock = time.perf_counter
    for prefix, ctx in cases:
        e, t = gen.exact.cache_info().misses, gen.typo_blocks.cache_info().misses
        t0 = clock()
        ranker.complete(ctx, prefix, 10)
        t1 = clock()
        ranker.complete(ctx, prefix, 10)
        again.append(clock() - t1)
        first.append(t1 - t0)
        missed.append((gen.exact.cache_info().misses - e, gen.typo_blocks.cache_info().misses - t))
    gc.unfreeze()
    first_us, again_us = np.array(first) * 1e6, np.array(again) * 1e6
    lens = np.array([len(p) for p, _ in cases])
    prev = np.array([bool(c.previous) for _, c in cases])

    # pass 2: a fresh ranker over the same calls, each part timed
    spent: dict[str, float] = {}
    per: list[dict[str, float]] = []
    undo = timed(spent)  # before loading: the generator's memos wrap its methods at start
    ranker = load_index(args.index).ranker
    gc.collect()
    gc.freeze()
    try:
        for prefix, ctx in cases:
            spent.clear()
            t0 = clock()
            ranker.complete(ctx, prefix, 10)
            total = clock() - t0
            row = {k: v * 1e6 for k, v in spent.items()}
            row["total"] = total * 1e6
            per.append(row)
            ranker.complete(ctx, prefix, 10)
    finally:
        gc.unfreeze()
        undo()
    totals = np.array([r["total"] for r in per])
    slow = np.argsort(-totals)[: max(1, len(per) // 100)]
    parts = sorted({k for i in slow for k in per[i]} - {"total"})
    slow_parts = {k: float(np.mean([per[i].get(k, 0.0) for i in slow])) for k in parts}
    slow_missed = np.array([missed[i] for i in slow]).mean(axis=0)

    out: dict[str, Any] = {
        "index": args.index,
        "keystrokes": len(cases),
        "budget_us": args.budget_us,
        "first": summary(first_us, args.budget_us),
        "again": summary(again_us, args.budget_us),
        "by_class": {},
        "slowest_1pct": {
            "mean_us": float(totals[slow].mean()),
            "exact_missed": float(slow_missed[0]),
            "typos_missed": float(slow_missed[1]),
            "parts_us": slow_parts,
            "lengths": {
                length_name(a, b): int(((lens[slow] >= a) & (lens[slow] <= b)).sum())
                for a, b in LENGTHS
            },
            "with_previous": int(prev[slow].sum()),
        },
    }
    print(f"{len(cases)} consecutive test keystrokes, each with the user's history, twice in a row")
    print(
        f"{'class':24s} {'n':>6s} {'mean':>6s} {'p50':>6s} {'p90':>6s} {'p99':>6s} "
        f"{'>budget':>8s}   second call: p50 / p99 / >budget"
    )
    classes = [("all", np.ones(len(cases), dtype=bool))]
    for a, b in LENGTHS:
        name = length_name(a, b)
        for has_prev in (False, True):
            mask = (lens >= a) & (lens <= b) & (prev == has_prev)
            classes.append((f"{name} chars, {'previous' if has_prev else 'first query'}", mask))
    for name, mask in classes:
        f, g = summary(first_us[mask], args.budget_us), summary(again_us[mask], args.budget_us)
        out["by_class"][name] = {"first": f, "again": g}
        print(
            f"{name:24s} {f['n']:6d} {f['mean']:6.0f} {f['p50']:6.0f} {f['p90']:6.0f} "
            f"{f['p99']:6.0f} {f['over_budget']:8.1%}   {g['p50']:.0f} / {g['p99']:.0f} / "
            f"{g['over_budget']:.1%}"
        )
    s = out["slowest_1pct"]
    print(
        f"\nslowest 1% of first calls ({len(slow)}): mean {s['mean_us']:.0f} us; prefix memo "
        f"missed: exact {s['exact_missed']:.2f}, typos {s['typos_missed']:.2f}; lengths "
        f"{s['lengths']}; {s['with_previous']} with a previous query"
    )
    for k, v in sorted(slow_parts.items(), key=lambda kv: -kv[1]):
        print(f"  {k:40s} {v:7.0f} us")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
