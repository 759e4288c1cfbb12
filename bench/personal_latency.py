"""What personal history adds to ranking latency: the same keystrokes with and without a
200-query history (each test user's real last 200 queries), interleaved call by call so
machine noise hits both alike.

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

from autocomplete.loader import load_index  # noqa: E402
from autocomplete.personal import examples_with_history  # noqa: E402
from indexer.dataset import load_split  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--keystrokes", type=int, default=20_000)
    ap.add_argument("--out", default=str(ROOT / "bench/results/personal_latency.json"))
    args = ap.parse_args()
    r = load_index(args.index).ranker
    data = load_split([args.log])
    stream = examples_with_history(data.train + data.dev, data.test, size=200)
    cases = [(ex, h) for ex, h in itertools.islice(stream, 0, args.keystrokes * 5, 5)]
    sizes = np.array([len(h) for _, h in cases])
    clock = time.perf_counter
    with_h, without = [], []
    for ex, h in cases:
        t = clock()
        r.complete(ex.context, ex.prefix, 10)
        t1 = clock()
        r.complete(ex.context, ex.prefix, 10, history=h, now=ex.time)
        t2 = clock()
        without.append(t1 - t)
        with_h.append(t2 - t1)
    a, b = np.array(without) * 1e6, np.array(with_h) * 1e6
    def pct(v: np.ndarray) -> dict[str, float]:
        return {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99))}

    out = {
        "keystrokes": len(cases),
        "history_size_mean": float(sizes.mean()),
        "history_size_p50": float(np.median(sizes)),
        "without_us": pct(a),
        "with_us": pct(b),
        "added_us": pct(b - a),
    }
    print(json.dumps(out, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
