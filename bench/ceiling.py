"""How far can ranking go? Upper bounds on MRR@10 per prefix bucket, next to what we reach.

A ranker can only rank a target it can produce. For each test keystroke (the shared time
split, every proper prefix of every query) we record:

    label        the target is a training query extending the prefix: the ceiling of any
                 ranker that returns labels only (MPC, libpecos, the bare XR-Linear ranker)
    pool         the target is in the blended ranker's candidate pool (labels, model
                 candidates, transitions, generated completions, session, typo; plus the
                 user's own history with --personal): the ceiling of re-ranking that pool
    ranked       the blended ranker's reciprocal rank (the MRR we report)

A ceiling of 1.0 per covered keystroke is what a perfect ranker would score (MRR = 1 when
the target is first). Comparing "2x MPC" with `pool` tells whether a target is reachable by
better ranking at all, or needs candidates we never produce.

    .venv/bin/python bench/ceiling.py --index DIR [--personal] [--every 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.history import keystrokes, keystrokes_with_history  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from autocomplete.model.buckets import NAMES, bucket_of  # noqa: E402
from indexer.dataset import load_split  # noqa: E402
from indexer.metrics import reciprocal_rank  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
COLS = ["overall", *NAMES]
MEASURES = ("label", "pool", "ranked", "mpc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True, help="a blended index built from --log")
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--personal", action="store_true", help="replay each user's history")
    ap.add_argument("--every", type=int, default=1, help="score every n-th keystroke")
    ap.add_argument("--out", default=str(ROOT / "bench/results/ceiling.json"))
    args = ap.parse_args()

    idx = load_index(args.index)
    bare = load_index(args.index, blend=False)
    ranker = idx.ranker
    data = load_split([args.log])
    stream = (
        keystrokes_with_history(data.train + data.dev, data.test)
        if args.personal
        else keystrokes(data.test)
    )
    sums: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    counts: dict[str, int] = defaultdict(int)
    for n, (ex, ctx) in enumerate(stream):
        if n % args.every:
            continue
        cs = ranker.gather(ctx, ex.prefix)
        ranked = ranker.complete(ctx, ex.prefix, 10)
        mpc = bare.mpc.complete(ctx, ex.prefix, 10)
        row = {
            "label": float(idx.labels.id_of(ex.target) >= 0),
            "pool": float(ex.target in cs),
            "ranked": reciprocal_rank(ex.target, [c.text for c in ranked]),
            "mpc": reciprocal_rank(ex.target, [c.text for c in mpc]),
        }
        for b in ("overall", bucket_of(len(ex.prefix))):
            counts[b] += 1
            for m in MEASURES:
                sums[b][m] += row[m]
    table = {b: {m: sums[b][m] / counts[b] for m in MEASURES} | {"n": counts[b]} for b in COLS}
    print(render(table, args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "table": table}, indent=1))


def render(table: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    mode = "personal history" if args.personal else "anonymous (session only)"
    lines = [
        f"MRR@10 ceilings, {mode}; every {args.every}. keystroke",
        f"{'':<28}" + "".join(f"{c:>9}" for c in COLS),
        f"{'keystrokes':<28}" + "".join(f"{table[c]['n']:>9}" for c in COLS),
    ]
    names = {
        "mpc": "MPC (reached)",
        "ranked": "blend (reached)",
        "label": "ceiling: target is a label",
        "pool": "ceiling: target in pool",
    }
    for m in ("mpc", "ranked", "label", "pool"):
        lines.append(f"{names[m]:<28}" + "".join(f"{table[c][m]:>9.4f}" for c in COLS))
    lines.append(
        f"{'2x MPC would need':<28}" + "".join(f"{2 * table[c]['mpc']:>9.4f}" for c in COLS)
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
