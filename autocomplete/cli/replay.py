"""`autocomplete replay`: arguments in, `autocomplete.replay` called, exit code out.

Exit codes: 0 done (and the gate passed); 1 the `--baseline` gate failed, or the server
could not be reached or went away, or a baseline or index could not be read; 2 a usage
error (bad flags, a malformed URL, an `--index` other than the served one). Errors are one
line on stderr and no traceback (`errors`).

"seen" figures need the served index's label set: pass `--index DIR` (the same directory the
server serves; its version must match the server's `hello`). Without it only "all" is
reported: the wire protocol does not say whether a target is a label.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from .args import add_command, add_k_arg, add_log_args, non_negative_int, positive_int
from .errors import EXIT_FAILED, UsageError

NAME = "replay"
HELP = "replay real sessions keystroke by keystroke against a running server"
EXAMPLE = "autocomplete replay --url ws://127.0.0.1:8000/ws --log data/sample/aol-sample.tsv.gz"


def add_parser(subparsers: Any) -> None:
    r = add_command(
        subparsers,
        NAME,
        HELP,
        "Types every held-out query of each session character by character "
        "(one `complete` per proper prefix, then `submit`) against a running "
        "server and reports the metrics of `autocomplete evaluate` plus "
        "round-trip latency and errors.",
    )
    r.add_argument(
        "--url",
        required=True,
        help="the server's WebSocket URL, e.g. ws://127.0.0.1:8000/ws; required",
    )
    add_log_args(r)
    r.add_argument(
        "--sessions",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="replay only the first N sessions of the part, in log order (default: all)",
    )
    r.add_argument(
        "--concurrency",
        type=positive_int,
        default=8,
        metavar="C",
        help="sessions replayed at once, one connection each (default 8)",
    )
    r.add_argument(
        "--typing-delay-ms",
        type=float,
        default=0.0,
        metavar="D",
        help="least time between two keystrokes of a session, in milliseconds "
        "(default %(default)g)",
    )
    add_k_arg(r, "completions asked for per keystroke; the server may serve fewer (QAC_MAX_K)")
    r.add_argument(
        "--index",
        metavar="DIR",
        help="the served index, to report the 'seen' set (default: none, 'all' only)",
    )
    r.add_argument(
        "--timeout-s",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds one request waits for its answer before it counts as lost "
        "(default %(default)g)",
    )
    r.add_argument(
        "--reconnect-s",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to keep reconnecting to a vanished server before giving up "
        "(default %(default)g)",
    )
    r.add_argument(
        "--session-prefix",
        default=None,
        metavar="PREFIX",
        help="session ids are PREFIX-<n> (default: random per run, so runs "
        "never share session context on the server)",
    )
    r.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON, without a progress bar (default: a table)",
    )
    r.add_argument(
        "--out-jsonl",
        metavar="FILE",
        help="write a per-session breakdown there, one JSON object a line (default: none)",
    )
    r.add_argument(
        "--baseline",
        metavar="FILE",
        help="a saved --json run: exit 1 if this run regressed against it (default: none)",
    )
    r.add_argument(
        "--max-mrr-drop",
        type=float,
        default=0.005,
        metavar="D",
        help="largest allowed MRR@10 drop vs the baseline (absolute; default %(default)g)",
    )
    r.add_argument(
        "--max-p99-rise",
        type=float,
        default=0.5,
        metavar="R",
        help="largest allowed round-trip p99 rise vs the baseline, as a fraction "
        "(0.5 = +50%%; default %(default)g)",
    )
    r.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar on stderr (default: one on a terminal)",
    )
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    from dataclasses import replace

    from tqdm import tqdm

    from autocomplete.replay.client import ClientSettings, ConnectFailed, check_url
    from autocomplete.replay.errors import ReplayError
    from autocomplete.replay.gate import GateLimits, compare, load_baseline
    from autocomplete.replay.outcome import SessionOutcome, format_report
    from autocomplete.replay.plan import check_run_id, new_run_id, plan_sessions
    from autocomplete.replay.retry import RECONNECT
    from autocomplete.replay.runner import ReplaySettings, probe, run_replay
    from indexer.dataset import load_split

    # Everything that can be refused is checked before the log is read.
    try:
        check_url(args.url)
    except ConnectFailed as exc:
        raise UsageError(exc.reason) from None
    if args.timeout_s <= 0 or args.reconnect_s < 0 or args.typing_delay_ms < 0:
        raise ValueError("--timeout-s must be > 0; --reconnect-s and --typing-delay-ms >= 0")
    limits = GateLimits(args.max_mrr_drop, args.max_p99_rise)
    baseline = load_baseline(args.baseline) if args.baseline else None
    client = ClientSettings(
        k=args.k,
        reply_timeout_s=args.timeout_s,
        typing_delay_s=args.typing_delay_ms / 1000.0,
        reconnect=replace(RECONNECT, deadline_s=args.reconnect_s),
    )
    run_id = check_run_id(args.session_prefix) if args.session_prefix else new_run_id()
    hello = asyncio.run(probe(args.url, client.open_timeout_s))

    is_seen: Callable[[str], bool] = _no_labels
    if args.index:
        from autocomplete.model.artifact import IndexFiles
        from autocomplete.model.labels import LabelIndex

        files = IndexFiles(args.index)
        if hello.get("index") != files.version:
            raise UsageError(
                f"--index {args.index} is index {files.version} but the server "
                f"serves {hello.get('index')}: the 'seen' set would be wrong"
            )
        labels = LabelIndex.load(files)

        def is_seen(target: str) -> bool:
            return labels.id_of(target) >= 0

    data = load_split(args.log, args.split, args.gap_minutes * 60)
    plans = plan_sessions(data.part(args.part), run_id, args.sessions)
    settings = ReplaySettings(args.concurrency, args.part, bool(args.index), client)

    jsonl: TextIO | None = None
    if args.out_jsonl:
        try:
            jsonl = open(args.out_jsonl, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ReplayError(f"cannot write {args.out_jsonl}: {exc.strerror or exc}") from None

    def write(outcome: SessionOutcome) -> None:
        if jsonl is not None:
            jsonl.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")

    bar = tqdm(
        total=sum(p.keystrokes for p in plans),
        desc="replay",
        unit="kst",
        disable=args.quiet or args.json or None,
        leave=False,
        file=sys.stderr,
    )
    try:
        report, _ = run_replay(
            args.url, plans, settings, is_seen, progress=bar.update, on_session=write
        )
    finally:
        bar.close()
        if jsonl is not None:
            jsonl.close()
    out = report.to_dict()
    gate = compare(out, baseline, limits) if baseline is not None else None
    if args.json:
        if gate is not None:
            out["gate"] = gate.to_dict()
        print(json.dumps(out, indent=1))
    else:
        print(format_report(out))
    if gate is not None:
        print(gate.summary(), file=sys.stderr if args.json else sys.stdout)
        if not gate.passed:
            return EXIT_FAILED
    return 0


def _no_labels(target: str) -> bool:
    return False
