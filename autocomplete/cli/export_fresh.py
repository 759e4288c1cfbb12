"""`autocomplete export-fresh`: the server's decayed submit counts (Redis) to a file."""

from __future__ import annotations

import argparse
from typing import Any

from autocomplete.fresh_export import ExportParams

from .args import positive_float, positive_int
from .errors import CommandError

NAME = "export-fresh"


def add_parser(sub: Any) -> None:
    x = sub.add_parser(
        NAME,
        help="write the server's decayed submit counts (Redis) to a file for build-index --fresh",
    )
    x.add_argument("--redis", required=True, metavar="URL", help="the server's QAC_REDIS_URL")
    x.add_argument(
        "--out", required=True, metavar="FILE", help="TSV to write (replaced atomically)"
    )
    x.add_argument(
        "--top",
        type=positive_int,
        default=ExportParams.top,
        help="the most counted queries to export (default %(default)s)",
    )
    x.add_argument(
        "--half-life-s",
        type=positive_float,
        default=ExportParams.half_life_s,
        help="decay the counts are read with; the server's QAC_FRESH_HALF_LIFE_S "
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
