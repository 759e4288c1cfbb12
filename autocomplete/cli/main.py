"""The `autocomplete` entry point: one parser with every command, errors mapped to exits.

Each command is a module of this package (`NAME`, `HELP`, `EXAMPLE`, `add_parser`, `run`);
every one is imported here, so a command whose imports break fails the whole CLI loudly
instead of vanishing. Which error ends a command with which exit status is `errors`; the
parser's own errors are usage errors too, and one line, like every other error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import build_index, complete, evaluate, export_fresh, replay, serve
from .errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STATUSES,
    EXIT_USAGE,
    describe,
    error_line,
    exit_status,
)
from .version import version

COMMANDS = (build_index, export_fresh, evaluate, complete, serve, replay)

DESCRIPTION = """\
Session-aware query autocompletion: build an index from a query log, measure it, and serve
completions for each keystroke over a WebSocket, ranked with the session's earlier queries."""


def epilog() -> str:
    """Every command with its one-line job and an example, in the order a newcomer needs."""
    width = max(len(c.NAME) for c in COMMANDS)
    lines = ["commands (autocomplete COMMAND --help for every option):"]
    for c in COMMANDS:
        lines.append(f"  {c.NAME:<{width}}  {c.HELP}")
        lines.append(f"      {c.EXAMPLE}")
    return "\n".join([*lines, "", EXIT_STATUSES])


class Parser(argparse.ArgumentParser):
    """argparse, but its usage errors are one line like every other error (same exit 2)."""

    def error(self, message: str) -> NoReturn:
        print(error_line(f"{message} (see '{self.prog} --help')"), file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="autocomplete",
        description=DESCRIPTION,
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--version",
        action="version",
        version=f"autocomplete {version()}",
        help="print the installed version and exit",
    )
    sub = ap.add_subparsers(
        dest="cmd", required=True, metavar="COMMAND", help="one of the commands below"
    )
    for command in COMMANDS:
        command.add_parser(sub)
    return ap


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments; a flag no command knows is reported against the command it was given
    to, so the hint names that command's help, not the top-level one."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        owner = commands.choices.get(args.cmd, parser)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `autocomplete evaluate | head`: the reader left, not an error
        return EXIT_OK
    except Exception as exc:
        status = exit_status(exc)
        if status is None:
            raise
        print(error_line(describe(exc)), file=sys.stderr)
        return status
