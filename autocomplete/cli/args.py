"""Argument types and argument groups several commands share."""

from __future__ import annotations

import argparse
from datetime import date

from indexer.sessions import DEFAULT_GAP_S, TimeSplit

PARTS = ("train", "dev", "test", "all")


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
        help="DEV_START,TEST_START (UTC dates; default 2006-05-01,2006-05-09)",
    )
    p.add_argument(
        "--gap-minutes",
        type=positive_float,
        default=DEFAULT_GAP_S / 60,
        help="session gap in minutes (default 30)",
    )


def add_log_args(p: argparse.ArgumentParser, *, part: bool = True) -> None:
    """--log (and --part): which log and which time part of it a command reads."""
    p.add_argument("--log", nargs="+", required=True, help="AOL-format log files (.txt or .gz)")
    if part:
        p.add_argument("--part", choices=PARTS, default="test")
    add_split_args(p)
