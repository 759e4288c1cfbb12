"""Typo tolerance on real misspellings: MRR with and without spelling correction.

Real misspelled prefixes come from the log itself: consecutive queries of a test session
where the next one corrects the previous (Damerau-Levenshtein distance 1 or 2, at least 4
characters, not a mere extension). Every prefix of the misspelled query from the first
wrong character on is a keystroke whose target is the corrected query. The same keystrokes
are scored by the blended ranker with and without the typo source; the whole test split
(`--limit` keystrokes) is scored too, to show what correction costs elsewhere.

    .venv/bin/python bench/typo.py --index DIR [--log ...] [--limit 50000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.evaluate import evaluate  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from indexer.dataset import load_split  # noqa: E402
from indexer.metrics import QualityReport, format_table  # noqa: E402
from indexer.sessions import Session  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"


def osa_distance(a: str, b: str, cap: int = 3) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps), capped."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return min(prev[-1], cap)


def misspellings(sessions: list[Session]) -> list[tuple[str, str, str]]:
    """(context before the typo, misspelled query, its correction) from real sessions."""
    out = []
    for s in sessions:
        for j in range(1, len(s.queries)):
            bad, good = s.queries[j - 1], s.queries[j]
            if len(bad) < 4 or good.startswith(bad) or bad.startswith(good):
                continue
            if osa_distance(bad, good) in (1, 2):
                out.append((s.queries[j - 2] if j >= 2 else "", bad, good))
    return out


def score(ranker, cases, k=10):  # type: ignore[no-untyped-def]
    rep = QualityReport(k)
    lat = []
    for ctx, bad, good in cases:
        pairs = zip(bad, good, strict=False)
        first_diff = next((i for i, (x, y) in enumerate(pairs) if x != y), min(len(bad), len(good)))
        for i in range(max(first_diff + 1, 4), len(bad) + 1):
            prefix = bad[:i]
            t = time.perf_counter()
            items = ranker.complete((ctx,) if ctx else (), prefix, k)
            lat.append(time.perf_counter() - t)
            rep.add(prefix, good, [c.text for c in items], True)
    arr = np.asarray(lat) * 1e6
    return rep.to_dict(), {
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--limit", type=int, default=50_000)
    ap.add_argument("--out", default=str(ROOT / "bench/results/typo.json"))
    args = ap.parse_args()
    data = load_split([args.log])
    cases = misspellings(data.test)
    idx = load_index(args.index)
    ranker = idx.ranker
    gen = getattr(ranker, "gen", None)
    if gen is None:
        sys.exit("typo bench needs a blended index (build without --no-blend)")
    typo = gen.typo
    results = {}
    for name, t in (("with_typo", typo), ("without_typo", None)):
        gen.typo = t
        q, lat = score(ranker, cases)
        overall = evaluate(ranker, data.test, lambda x: idx.labels.id_of(x) >= 0, limit=args.limit)
        results[name] = {
            "misspelled": q["all"]["overall"],
            "misspelled_latency_us": lat,
            "test_overall": overall.quality["all"]["overall"],
            "test_latency_us": overall.latency_us,
        }
        print(
            format_table(
                {
                    "all": {
                        "misspelled": q["all"]["overall"],
                        "test": overall.quality["all"]["overall"],
                    }
                },
                name,
            )
        )
        print(
            f"  latency misspelled p50 {lat['p50']:.0f}us p99 {lat['p99']:.0f}us; "
            f"test p50 {overall.latency_us['p50']:.0f}us p99 {overall.latency_us['p99']:.0f}us"
        )
    gen.typo = typo
    print(f"{len(cases)} real misspelling->correction pairs in the test split")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"pairs": len(cases), **results}, indent=1))


if __name__ == "__main__":
    main()
