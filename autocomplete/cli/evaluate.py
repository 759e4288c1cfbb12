"""`autocomplete evaluate`: MRR@10, success@1/@10 and BLEU-4 of an index, by prefix length."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .args import add_log_args, positive_int

NAME = "evaluate"


def add_parser(sub: Any) -> None:
    e = sub.add_parser(NAME, help="MRR@10, success@1/@10, BLEU-4 by prefix length")
    e.add_argument("--index", required=True)
    add_log_args(e)
    e.add_argument("--k", type=positive_int, default=10)
    e.add_argument(
        "--limit", type=positive_int, default=None, help="score at most this many keystrokes"
    )
    e.add_argument(
        "--personal",
        action="store_true",
        help="replay each user's history in time order (earlier parts are their past)",
    )
    e.add_argument("--json", action="store_true")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from autocomplete.evaluate import evaluate_part, keystroke_count
    from autocomplete.loader import load_index
    from indexer.dataset import load_split
    from indexer.metrics import format_table

    idx = load_index(args.index)
    data = load_split(args.log, args.split, args.gap_minutes * 60)
    bar = tqdm(
        total=keystroke_count(data.part(args.part), args.limit),
        desc=NAME,
        unit="kst",
        disable=args.quiet or args.json or None,
        leave=False,
    )
    try:
        res = evaluate_part(
            idx,
            data,
            args.part,
            personal=args.personal,
            k=args.k,
            limit=args.limit,
            progress=bar.update,
        )
    finally:
        bar.close()
    if args.json:
        out = {
            "index": idx.version,
            "model": idx.model,
            "part": args.part,
            "personal": bool(args.personal),
            **res.to_dict(),
        }
        print(json.dumps(out, indent=1))
        return 0
    personal = " with personal history" if args.personal else ""
    print(
        format_table(
            res.quality,
            f"{idx.model} index {idx.version} on {args.part}: {res.examples} keystrokes"
            f"{personal}, {res.examples / res.seconds:.0f}/s, "
            f"ranking p50 {res.latency_us['p50']:.0f}us p99 {res.latency_us['p99']:.0f}us",
        )
    )
    return 0
