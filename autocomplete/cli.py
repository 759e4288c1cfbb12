"""`autocomplete` command line: parses arguments, calls library functions, maps errors to exits.

Known errors (bad logs, bad index directories, bad arguments) print one line to stderr and
exit 2; nothing the user can cause prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date

from autocomplete.fresh_export import ExportParams
from indexer.errors import IndexerError
from indexer.freshfile import read_fresh_file
from indexer.kanon import KAnonParams
from indexer.params import MODELS, BuildParams
from indexer.sessions import DEFAULT_GAP_S, TimeSplit
from indexer.xmr.params import XMRParams

EXIT_USAGE = 2


def _split(text: str) -> TimeSplit:
    try:
        dev, test = (date.fromisoformat(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--split wants DEV_START,TEST_START dates, got {text!r}"
        ) from None
    if not dev <= test:
        raise argparse.ArgumentTypeError("--split: DEV_START must not be after TEST_START")
    return TimeSplit(dev, test)


def _add_split_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--split",
        type=_split,
        default=TimeSplit(),
        help="DEV_START,TEST_START (UTC dates; default 2006-05-01,2006-05-09)",
    )
    p.add_argument(
        "--gap-minutes",
        type=float,
        default=DEFAULT_GAP_S / 60,
        help="session gap in minutes (default 30)",
    )


def _cmd_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from autocomplete.build import build_full

    params = BuildParams(
        model=args.model,
        min_count=args.min_count,
        gap_s=args.gap_minutes * 60,
        split=args.split,
        use_all=args.all,
        blend=not args.no_blend,
        xmr=XMRParams(depth=args.xmr_depth, workers=args.xmr_workers),
        kanon=KAnonParams(
            min_users=args.min_users,
            max_repeats_per_day=args.max_repeats_per_day,
            max_queries_per_day=args.max_queries_per_day,
        ),
    )
    bar = tqdm(desc="build-index", unit="step", disable=args.quiet or None, leave=False)

    def say(msg: str) -> None:
        bar.set_postfix_str(msg[:60])
        bar.update(1)

    fresh = [read_fresh_file(path) for path in args.fresh]  # before the slow part
    try:
        report = build_full(args.log, args.out, params, say, fresh=fresh)
    finally:
        bar.close()
    m = report.manifest
    print(
        f"built {m['model']} index {m['index_version']} with {m['label_count']} labels "
        f"in {report.seconds:.1f}s (peak RSS {report.peak_rss_mb:.0f} MB) -> {args.out}"
    )
    folded = m["stats"].get("fresh")
    if folded is not None:
        print(
            f"folded {folded['queries']} fresh queries from {len(folded['files'])} file(s): "
            f"{folded['new_labels']} new labels"
        )
    kept = m["stats"]["kanon"]
    print(
        f"shared with others (>= {kept['min_users']} users each): {kept['labels_kept']} labels "
        f"({kept['labels_dropped']} queries withheld), {kept['endings_kept']} endings, "
        f"{kept['transitions_kept']} transitions"
    )
    cov = m["stats"].get("dev_label_coverage")
    if cov is not None:
        print(f"dev queries that are labels: {cov:.1%}")
    return 0


def _cmd_export_fresh(args: argparse.Namespace) -> int:
    from autocomplete.fresh_export import export_fresh
    from session_store.errors import SessionStoreError

    params = ExportParams(top=args.top, half_life_s=args.half_life_s)
    try:
        report = export_fresh(args.redis, args.out, params)
    except SessionStoreError as exc:
        # The URL is not echoed: it may hold a password.
        detail = " ".join(str(exc).split())
        print(f"autocomplete: error: cannot read fresh counts: {detail}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"autocomplete: error: --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"exported {report.rows} fresh queries -> {report.path}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"want an integer >= 1, got {text!r}")
    return value


def _count_or_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"want an integer >= 0 (0 = no bound), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"want a number > 0, got {text!r}")
    return value


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from autocomplete.evaluate import evaluate
    from autocomplete.loader import load_index
    from indexer.dataset import load_split
    from indexer.metrics import format_table

    idx = load_index(args.index)
    data = load_split(args.log, args.split, args.gap_minutes * 60)
    sessions = data.part(args.part)
    total = sum(len(q) - 1 for s in sessions for q in s.queries)
    if args.limit:
        total = min(total, args.limit)
    bar = tqdm(
        total=total,
        desc="evaluate",
        unit="kst",
        disable=args.quiet or args.json or None,
        leave=False,
    )
    labels = idx.labels
    try:
        past = None
        if args.personal:
            order = ("train", "dev", "test")
            past = (
                [s for part in order[: order.index(args.part)] for s in data.part(part)]
                if args.part in order
                else []
            )
        res = evaluate(
            idx.ranker,
            sessions,
            lambda t: labels.id_of(t) >= 0,
            k=args.k,
            limit=args.limit,
            progress=bar.update,
            past=past,
        )
    finally:
        bar.close()
    out = {
        "index": idx.version,
        "model": idx.model,
        "part": args.part,
        "personal": bool(args.personal),
        **res.to_dict(),
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(
            format_table(
                res.quality,
                f"{idx.model} index {idx.version} on {args.part}: "
                f"{res.examples} keystrokes{' with personal history' if args.personal else ''}, "
                f"{res.examples / res.seconds:.0f}/s, "
                f"ranking p50 {res.latency_us['p50']:.0f}us "
                f"p99 {res.latency_us['p99']:.0f}us",
            )
        )
    return 0


def _cmd_complete(args: argparse.Namespace) -> int:
    from autocomplete.loader import load_index
    from indexer.text import normalize_prefix, normalize_query

    idx = load_index(args.index)
    prev = tuple(q for q in (normalize_query(p) for p in args.prev) if q)
    for raw in args.prefix:
        p = normalize_prefix(raw)
        items = idx.ranker.complete(prev, p, args.k)
        ctx = f" after {prev[-1]!r}" if prev else ""
        print(f"{raw!r}{ctx}:")
        for c in items:
            print(f"   {c.score:8.4f}  {c.text}  [{c.source}]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="autocomplete", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("build-index", help="build an index directory from query logs")
    b.add_argument("--log", nargs="+", required=True, help="AOL-format log files (.txt or .gz)")
    b.add_argument("--out", required=True, help="index directory to write (replaced atomically)")
    b.add_argument(
        "--model",
        choices=MODELS,
        default="xmr",
        help="xmr: the session-aware ranker (default); mpc: popularity only",
    )
    b.add_argument(
        "--xmr-depth",
        type=int,
        default=XMRParams.depth,
        choices=range(4),
        help="xmr: trie levels above the k-means levels (default %(default)s)",
    )
    b.add_argument(
        "--xmr-workers",
        type=int,
        default=0,
        help="xmr: training processes (default: one per CPU; the index is the same)",
    )
    b.add_argument("--min-count", type=int, default=1)
    b.add_argument(
        "--min-users",
        type=_positive_int,
        default=KAnonParams.min_users,
        metavar="K",
        help="share a query, ending or transition with others only when at least K distinct "
        "users issued it in training (default %(default)s; 1 = every training query)",
    )
    b.add_argument(
        "--max-repeats-per-day",
        type=_count_or_zero,
        default=KAnonParams.max_repeats_per_day,
        metavar="N",
        help="a query counts at most N times per user per day (default %(default)s; 0 = no bound)",
    )
    b.add_argument(
        "--max-queries-per-day",
        type=_count_or_zero,
        default=KAnonParams.max_queries_per_day,
        metavar="N",
        help="a user contributes at most N distinct queries a day, the first ones "
        "(default %(default)s; 0 = no bound)",
    )
    b.add_argument("--all", action="store_true", help="train on every event, ignoring the split")
    b.add_argument(
        "--no-blend",
        action="store_true",
        help="serve the bare model (no generated completions, history or learned blend)",
    )
    b.add_argument(
        "--fresh",
        action="append",
        default=[],
        metavar="FILE",
        help="fold counts from `autocomplete export-fresh` into the label counts (repeatable)",
    )
    b.add_argument("--quiet", action="store_true")
    _add_split_args(b)
    b.set_defaults(func=_cmd_build)

    x = sub.add_parser(
        "export-fresh",
        help="write the server's decayed submit counts (Redis) to a file for build-index --fresh",
    )
    x.add_argument("--redis", required=True, metavar="URL", help="the server's QAC_REDIS_URL")
    x.add_argument(
        "--out", required=True, metavar="FILE", help="TSV to write (replaced atomically)"
    )
    x.add_argument(
        "--top",
        type=_positive_int,
        default=ExportParams.top,
        help="the most counted queries to export (default %(default)s)",
    )
    x.add_argument(
        "--half-life-s",
        type=_positive_float,
        default=ExportParams.half_life_s,
        help="decay the counts are read with; the server's QAC_FRESH_HALF_LIFE_S "
        "(default %(default)g)",
    )
    x.set_defaults(func=_cmd_export_fresh)

    e = sub.add_parser("evaluate", help="MRR@10, success@1/@10, BLEU-4 by prefix length")
    e.add_argument("--index", required=True)
    e.add_argument("--log", nargs="+", required=True)
    e.add_argument("--part", choices=("train", "dev", "test", "all"), default="test")
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--limit", type=int, default=None, help="score at most this many keystrokes")
    e.add_argument(
        "--personal",
        action="store_true",
        help="replay each user's history in time order (earlier parts are their past)",
    )
    e.add_argument("--json", action="store_true")
    e.add_argument("--quiet", action="store_true")
    _add_split_args(e)
    e.set_defaults(func=_cmd_evaluate)

    c = sub.add_parser("complete", help="print completions for typed prefixes")
    c.add_argument("--index", required=True)
    c.add_argument("--prev", action="append", default=[], help="a previous query (repeatable)")
    c.add_argument("--k", type=int, default=10)
    c.add_argument("prefix", nargs="+")
    c.set_defaults(func=_cmd_complete)

    try:
        from autocomplete.serve_cli import add_serve_parser
    except ImportError:  # the server is optional for offline tools
        pass
    else:
        add_serve_parser(sub)
    try:
        from autocomplete.replay_cli import add_replay_parser
    except ImportError:
        pass
    else:
        add_replay_parser(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except IndexerError as exc:
        print(f"autocomplete: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"autocomplete: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `autocomplete evaluate | head`: the reader left, not an error
        return 0


if __name__ == "__main__":
    sys.exit(main())
