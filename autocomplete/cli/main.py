"""The `autocomplete` entry point: one parser with every command, errors mapped to exits.

Each command is a module of this package (`NAME`, `add_parser`, `run`); every one is imported
here, so a command whose imports break fails the whole CLI loudly instead of vanishing.
Known errors (`errors.KNOWN`) print one line and exit 2, nothing the user can cause prints a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import build_index, complete, evaluate, export_fresh, replay, serve
from .errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, KNOWN

COMMANDS = (build_index, export_fresh, evaluate, complete, serve, replay)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="autocomplete", description="Session-aware query autocompletion."
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except KNOWN as exc:
        print(f"autocomplete: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `autocomplete evaluate | head`: the reader left, not an error
        return EXIT_OK
