"""`autocomplete evaluate`: MRR@10, success@1/@10 and BLEU-4 of an index, by prefix length."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .args import add_command, add_k_arg, add_log_args, positive_int
from .errors import warning_line

NAME = "evaluate"
HELP = "score an index on a part of a log: MRR@10, success@1/@10, BLEU-4 by prefix length"
EXAMPLE = "autocomplete evaluate --index index/sample --log data/sample/aol-sample.tsv.gz"


def add_parser(sub: Any) -> None:
    e = add_command(
        sub,
        NAME,
        HELP,
        "Types every query of the part keystroke by keystroke (each proper "
        "prefix) and scores the index's completions against the query. Warns on stderr "
        "when the index was trained on the part it is scored on.",
    )
    e.add_argument(
        "--index",
        required=True,
        metavar="DIR",
        help="index directory from `build-index`; required",
    )
    add_log_args(e)
    add_k_arg(e, "completions asked for per keystroke")
    e.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="score at most N keystrokes (default: all of the part)",
    )
    e.add_argument(
        "--personal",
        action="store_true",
        help="replay each user's history in time order, earlier parts being their past "
        "(default: off, every keystroke an anonymous visitor's)",
    )
    e.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON, without a progress bar (default: a table)",
    )
    e.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar on stderr (default: one on a terminal)",
    )
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from autocomplete.evaluate import evaluate_part, keystroke_count
    from autocomplete.leakage import learned_from
    from autocomplete.loader import load_index
    from indexer.dataset import load_split
    from indexer.metrics import format_table

    idx = load_index(args.index)
    data = load_split(args.log, args.split, args.gap_minutes * 60)
    leak = learned_from(idx.files.manifest, args.part, data.part(args.part))
    if leak:
        print(warning_line(leak), file=sys.stderr)
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
