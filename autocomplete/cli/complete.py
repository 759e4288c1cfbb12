"""`autocomplete complete`: print an index's completions for typed prefixes."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .args import positive_int

NAME = "complete"


def add_parser(sub: Any) -> None:
    c = sub.add_parser(NAME, help="print completions for typed prefixes")
    c.add_argument("--index", required=True)
    c.add_argument("--prev", action="append", default=[], help="a previous query (repeatable)")
    c.add_argument("--k", type=positive_int, default=10)
    c.add_argument("prefix", nargs="+")
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
            print(f"   {c.score:8.4f}  {c.text}  [{c.source}]")
    return 0
