"""`autocomplete export-fresh`: the server's decayed submit counts (Redis) to a file."""

from __future__ import annotations

import argparse
from typing import Any

from autocomplete.fresh_export import ExportParams

from .args import add_command, positive_float, positive_int
from .errors import CommandError

NAME = "export-fresh"
HELP = "write the server's decayed submit counts (Redis) to a file for build-index --fresh"
EXAMPLE = "autocomplete export-fresh --redis redis://localhost:6379/0 --out fresh.tsv"


def add_parser(sub: Any) -> None:
    x = add_command(sub, NAME, HELP)
    x.add_argument(
        "--redis",
        required=True,
        metavar="URL",
        help="the server's QAC_REDIS_URL (redis://host:port/db, or redis+cluster://...); required",
    )
    x.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="TSV to write (replaced atomically); required",
    )
    x.add_argument(
        "--top",
        type=positive_int,
        default=ExportParams.top,
        metavar="N",
        help="the N most counted queries to export (default %(default)s)",
    )
    x.add_argument(
        "--half-life-s",
        type=positive_float,
        default=ExportParams.half_life_s,
        metavar="S",
        help="decay the counts are read with, in seconds; the server's QAC_FRESH_HALF_LIFE_S "
        "(default %(default)g)",
    )
    x.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autocomplete.fresh_export import export_fresh
    from session_store.errors import SessionStoreError

    params = ExportParams(top=args.top, half_life_s=args.half_life_s)
    try:
        report = export_fresh(args.redis, args.out, params)
    except SessionStoreError as exc:
        # The URL is not echoed: it may hold a password.
        detail = " ".join(str(exc).split())
        raise CommandError(f"cannot read fresh counts: {detail}") from None
    except OSError as exc:
        raise CommandError(f"--out {args.out}: {exc.strerror or exc}") from None
    print(f"exported {report.rows} fresh queries -> {report.path}")
    return 0
