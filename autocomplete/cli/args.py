"""Argument types and argument groups several commands share."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from indexer.sessions import DEFAULT_GAP_S, TimeSplit

PARTS = ("train", "dev", "test", "all")

#: the most completions a command prints or scores per keystroke; a list longer than this
#: is no longer a suggestion list (the server's own limit is lower, `QAC_MAX_K`)
MAX_K = 100


def add_command(sub: Any, name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
    """A command's parser, its summary the first sentence of its description. The summary is
    not given as `help=`: the top-level help lists each command once, with an example, in
    its epilog (`main.epilog`), not a second time as a bare list."""
    first = summary[:1].upper() + summary[1:] + "."
    parser: argparse.ArgumentParser = sub.add_parser(name, description=f"{first} {details}".strip())
    return parser


def split(text: str) -> TimeSplit:
    try:
        dev, test = (date.fromisoformat(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--split wants DEV_START,TEST_START dates, got {text!r}"
        ) from None
    if not dev <= test:
        raise argparse.ArgumentTypeError("--split: DEV_START must not be after TEST_START")
    return TimeSplit(dev, test)


def _integer(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"want {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1, "an integer >= 1")


def non_negative_int(text: str) -> int:
    return _integer(text, 0, "an integer >= 0")


def count_or_zero(text: str) -> int:
    return _integer(text, 0, "an integer >= 0 (0 = no bound)")


def top_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_K:
        raise argparse.ArgumentTypeError(f"want an integer from 1 to {MAX_K}, got {text!r}")
    return value


def add_k_arg(p: argparse.ArgumentParser, what: str) -> None:
    """--k: how many completions per keystroke, 1..MAX_K."""
    p.add_argument(
        "--k",
        type=top_k,
        default=10,
        metavar="K",
        help=f"{what} (1 to {MAX_K}; default %(default)s)",
    )


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"want a number > 0, got {text!r}")
    return value


def add_split_args(p: argparse.ArgumentParser) -> None:
    """--split and --gap-minutes: how a log is cut into sessions and time parts."""
    p.add_argument(
        "--split",
        type=split,
        default=TimeSplit(),
        metavar="DEV_START,TEST_START",
        help="UTC dates (YYYY-MM-DD) that cut the log in time: train before DEV_START, dev "
        "until TEST_START, test from it (default 2006-05-01,2006-05-09)",
    )
    p.add_argument(
        "--gap-minutes",
        type=positive_float,
        default=DEFAULT_GAP_S / 60,
        metavar="MIN",
        help="a user's queries at most this many minutes apart are one session "
        "(minutes, > 0; default %(default)g)",
    )


def add_log_args(p: argparse.ArgumentParser, *, part: bool = True) -> None:
    """--log (and --part): which log and which time part of it a command reads."""
    add_log_arg(p)
    if part:
        p.add_argument(
            "--part",
            choices=PARTS,
            default="test",
            help="which time part of the log to use (see --split; default %(default)s)",
        )
    add_split_args(p)


def add_log_arg(p: argparse.ArgumentParser) -> None:
    """--log: one or more query logs, read in the order given."""
    p.add_argument(
        "--log",
        nargs="+",
        required=True,
        metavar="FILE",
        help="AOL-format query logs, tab-separated AnonID, Query, QueryTime (.txt, or .gz "
        "compressed); required",
    )
