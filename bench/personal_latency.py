"""What personal history adds to ranking latency: the same keystrokes with and without a
200-query history (each test user's real last 200 queries), interleaved call by call so
machine noise hits both alike, the order rotating from one keystroke to the next so each
configuration is the first to rank a prefix (and fill its memos) equally often. The history
is handed over as the server does (`PrefixHistory`, sorted once per change of the history,
not per keystroke: the keystrokes of one query share their history's sorted view). When
the index has a learned ranker, the linear blend alone (`load_index(learned=False)`) is
timed too, in the same interleaving: "linear_*" figures.

    .venv/bin/python bench/personal_latency.py --index DIR [--log ...] [--keystrokes 20000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.evaluate import latency_summary  # noqa: E402
from autocomplete.history import keystrokes_with_history, served  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from autocomplete.ranking import Context  # noqa: E402
from indexer.dataset import load_split  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--keystrokes", type=int, default=20_000)
    ap.add_argument("--out", default=str(ROOT / "bench/results/personal_latency.json"))
    args = ap.parse_args()
    idx = load_index(args.index)
    r = idx.ranker
    both = idx.files.has("learned")  # else the linear blend is what `r` already serves
    linear = load_index(args.index, learned=False).ranker
    data = load_split([args.log])
    # one sorted view per history as it stands, shared by that history's keystrokes (a server
    # connection sorts once per change of the history, not per keystroke)
    stream = served(keystrokes_with_history(data.train + data.dev, data.test))
    cases = list(itertools.islice(stream, 0, args.keystrokes * 5, 5))
    sizes = np.array([len(ctx.history) for _, ctx in cases])
    clock = time.perf_counter
    times: dict[str, list[float]] = {k: [] for k in ("with", "without", "lin_with", "lin_wo")}
    for j, (ex, ctx) in enumerate(cases):
        anonymous = Context(ctx.previous, (), ctx.now)
        calls = [
            ("without", r, anonymous),
            ("with", r, ctx),
            *((("lin_wo", linear, anonymous), ("lin_with", linear, ctx)) if both else ()),
        ]
        # the first call of a keystroke fills the prefix's memos the others then read: each
        # configuration goes first equally often, so none is timed warm or cold throughout
        turn = j % len(calls)
        for name, ranker, c in calls[turn:] + calls[:turn]:
            t = clock()
            ranker.complete(c, ex.prefix, 10)
            times[name].append(clock() - t)
    with_h, without = times["with"], times["without"]
    out = {
        "keystrokes": len(cases),
        "history_size_mean": float(sizes.mean()),
        "history_size_p50": float(np.median(sizes)),
        "without_us": latency_summary(without),
        "with_us": latency_summary(with_h),
        "added_us": latency_summary(np.array(with_h) - np.array(without)),
    }
    if both:
        out["linear_without_us"] = latency_summary(times["lin_wo"])
        out["linear_with_us"] = latency_summary(times["lin_with"])
    print(json.dumps(out, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
