"""Typo tolerance on real misspellings: MRR with and without spelling correction.

Real misspelled prefixes come from the log itself (`indexer.misspellings`): consecutive
queries of a session where the next one corrects the previous (Damerau-Levenshtein distance
1 or 2, at least 4 characters, not a mere extension). Every prefix of the misspelled query from the
first wrong character on is a keystroke whose target is the correction, with the session's
earlier queries as context. The same keystrokes are scored by the blended ranker with and
without the typo source, and so is a slice of the whole split (`--limit` keystrokes, targets
as typed) to show what correction costs elsewhere. Each run starts with a fresh corrector,
so its caches are cold when the timing starts.

Besides MRR: `recall` is the share of keystrokes whose target is among the candidates at
all, `fired` the share where the typo source offered any correction, and "seen" rows are
pairs whose correction is a training query.

    .venv/bin/python bench/typo.py --index DIR [--log ...] [--split test] [--limit 50000]

Thresholds of the speller are chosen with `--split dev`, never on test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.blend import BlendRanker  # noqa: E402
from autocomplete.evaluate import evaluate, latency_summary  # noqa: E402
from autocomplete.history import keystrokes  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from autocomplete.ranking import Context  # noqa: E402
from autocomplete.typo.corrector import TypoCorrector  # noqa: E402
from indexer.dataset import load_split  # noqa: E402
from indexer.metrics import QualityReport, format_table  # noqa: E402
from indexer.misspellings import correction_examples  # noqa: E402
from indexer.sessions import Example  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"


def score_misspelled(
    ranker: BlendRanker, cases: list[Example], is_label: Any, k: int = 10
) -> dict[str, Any]:
    """MRR, recall and latency of the ranker on the misspelled keystrokes."""
    rep = QualityReport(k)
    lat: list[float] = []
    for ex in cases:
        ctx = Context(ex.context, (), ex.time)
        t = time.perf_counter()
        items = ranker.complete(ctx, ex.prefix, k)
        lat.append(time.perf_counter() - t)
        rep.add(ex.prefix, ex.target, [c.text for c in items], is_label(ex.target))
    inside = fired = 0
    for ex in cases:  # untimed: the candidate set itself
        cs = ranker.gather(Context(ex.context, (), ex.time), ex.prefix)
        inside += ex.target in cs
        fired += bool(cs.corrected)
    q = rep.to_dict()
    return {
        "all": q["all"]["overall"],
        "seen": q["seen"].get("overall", {}),
        "recall": inside / max(len(cases), 1),
        "fired": fired / max(len(cases), 1),
        "latency_us": latency_summary(lat),
    }


def fired_share(ranker: BlendRanker, data: Any, limit: int) -> float:
    """Share of the whole split's keystrokes where the typo source offered anything."""
    n = fired = 0
    for ex, ctx in keystrokes(data):
        if n >= limit:
            break
        fired += bool(ranker.gather(ctx, ex.prefix).corrected)
        n += 1
    return fired / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--split", choices=("test", "dev"), default="test")
    ap.add_argument("--limit", type=int, default=50_000)
    ap.add_argument("--out", default=None, help="default bench/results/typo.json (test)")
    args = ap.parse_args()
    data = load_split([args.log])
    sessions = data.test if args.split == "test" else data.dev
    cases = list(correction_examples(sessions))
    pairs = len({(ex.user, ex.time) for ex in cases})
    idx = load_index(args.index)
    ranker = idx.ranker
    if not isinstance(ranker, BlendRanker):
        sys.exit("typo bench needs a blended index (build without --no-blend)")
    gen = ranker.gen
    is_label = lambda q: idx.labels.id_of(q) >= 0  # noqa: E731
    results: dict[str, Any] = {}
    for name in ("without_typo", "with_typo"):
        gen.typo = TypoCorrector(gen.labels, gen.endings) if name == "with_typo" else None
        mis = score_misspelled(ranker, cases, is_label)
        overall = evaluate(ranker, sessions, is_label, limit=args.limit)
        results[name] = {
            "misspelled": mis,
            "split_overall": overall.quality["all"]["overall"],
            "split_latency_us": overall.latency_us,
            "split_fired": fired_share(ranker, sessions, args.limit) if gen.typo else 0.0,
        }
        table = {"mis": {"all": mis["all"]}, "split": {"all": overall.quality["all"]["overall"]}}
        if mis["seen"]:
            table["mis"]["seen"] = mis["seen"]
        print(format_table(table, f"{name} ({args.split})"))
        lat, slat = mis["latency_us"], overall.latency_us
        print(
            f"  misspelled: recall {mis['recall']:.3f}, fired {mis['fired']:.3f}, "
            f"p50 {lat['p50']:.0f}us p99 {lat['p99']:.0f}us; split: fired "
            f"{results[name]['split_fired']:.3f}, p50 {slat['p50']:.0f}us p99 {slat['p99']:.0f}us"
        )
    print(f"{pairs} misspelling->correction pairs, {len(cases)} keystrokes ({args.split})")
    name = "typo.json" if args.split == "test" else "typo_dev.json"
    out = Path(args.out or ROOT / "bench/results" / name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "index": args.index,
                "split": args.split,
                "pairs": pairs,
                "keystrokes": len(cases),
                "limit": args.limit,
                **results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
