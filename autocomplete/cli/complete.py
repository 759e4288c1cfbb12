"""`autocomplete complete`: print an index's completions for typed prefixes.

Scores are printed to three significant digits, not to a fixed number of decimals: the
blended ranker's scores are probabilities over its candidates, and a candidate it all but
rules out (1e-27) must not read as a tie at 0.0000 with the ones it ranked.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from .args import add_command, add_k_arg

NAME = "complete"
HELP = "print the completions an index gives for typed prefixes"
EXAMPLE = "autocomplete complete --index index/sample --prev 'weather' new"


def add_parser(sub: Any) -> None:
    c = add_command(sub, NAME, HELP)
    c.add_argument(
        "--index",
        required=True,
        metavar="DIR",
        help="index directory from `build-index`; required",
    )
    c.add_argument(
        "--prev",
        action="append",
        default=[],
        metavar="QUERY",
        help="a query issued earlier in the session, oldest first (repeatable; default: none)",
    )
    add_k_arg(c, "completions printed per prefix")
    c.add_argument("prefix", nargs="+", help="what was typed so far (one or more prefixes)")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autocomplete.loader import load_index
    from autocomplete.ranking import Context
    from indexer.text import normalize_prefix, normalize_query

    idx = load_index(args.index)
    prev = tuple(q for q in (normalize_query(p) for p in args.prev) if q)
    for raw in args.prefix:
        items = idx.ranker.complete(Context(prev, (), time.time()), normalize_prefix(raw), args.k)
        after = f" after {prev[-1]!r}" if prev else ""
        print(f"{raw!r}{after}:")
        for c in items:
            print(f"   {c.score:>9.3g}  {c.text}  [{c.source}]")
        if not items:
            print("   (no completions)")
    return 0
