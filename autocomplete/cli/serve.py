"""`autocomplete serve`: flags over `QAC_*` environment variables, then the server runs.

Only argument parsing lives here; settings are `autocomplete.server.config.ServerConfig`,
running is `autocomplete.server.runner`.
"""

from __future__ import annotations

import argparse
from typing import Any

from autocomplete.server.config import parse_origins

from .args import add_command

NAME = "serve"
HELP = "serve completions over WebSocket (/ws), plus /healthz, /metrics and the demo"
EXAMPLE = "autocomplete serve --index index/sample --port 8000"


def add_parser(subparsers: Any) -> None:
    s = add_command(
        subparsers,
        NAME,
        HELP,
        "Every setting can also come from a QAC_* environment variable "
        "(e.g. QAC_INDEX, QAC_REDIS_URL, QAC_ALLOWED_ORIGINS, QAC_MAX_CONNECTIONS, "
        "QAC_RATE_PER_S); flags win over the environment. Users are identified only by a "
        "verified credential: set QAC_JWT_SECRET (HS256) or QAC_JWT_PUBLIC_KEY_FILE "
        "(RS256/ES256), or QAC_TRUSTED_PROXIES + QAC_TRUSTED_USER_HEADER; without them every "
        "connection is anonymous.",
    )
    s.add_argument(
        "--index",
        metavar="DIR",
        help="index directory from `build-index` (QAC_INDEX); required here or there",
    )
    s.add_argument(
        "--redis",
        dest="redis_url",
        metavar="URL",
        help="Redis URL for session state (QAC_REDIS_URL): redis://host:port/0, or a Redis "
        "Cluster as redis+cluster://host:port,host:port; default: in-memory, per process",
    )
    s.add_argument("--host", help="listen address (QAC_HOST, default 127.0.0.1)")
    s.add_argument(
        "--port", type=int, help="listen TCP port; 0 picks a free one (QAC_PORT, default 8000)"
    )
    s.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes, each mapping the same index (QAC_WORKERS, default 1)",
    )
    s.add_argument(
        "--allowed-origins",
        metavar="LIST",
        type=parse_origins,
        help="comma-separated browser origins allowed on /ws, or * "
        "(QAC_ALLOWED_ORIGINS; default: same origin only)",
    )
    s.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="open WebSockets per worker (QAC_MAX_CONNECTIONS, default 1000)",
    )
    s.add_argument(
        "--blocklist",
        metavar="FILE",
        help="completions matching this file's words or re: patterns are never sent; "
        "edits apply without a restart (QAC_BLOCKLIST; default: none)",
    )
    s.add_argument(
        "--demo-tokens",
        action="store_const",
        const=True,
        help="serve POST /demo/token, which hands out a token for any user id, so the demo "
        "page can show personal history (QAC_DEMO_TOKENS). Anyone can then be anyone: "
        "for demos on your own machine only (default: off)",
    )
    s.add_argument(
        "--static-dir",
        metavar="DIR",
        help="demo files served at / and /static (QAC_STATIC_DIR; default: web_demo/ of "
        "the source tree)",
    )
    s.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        help="least severity logged (QAC_LOG_LEVEL, default info)",
    )
    s.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text, or json: one JSON object per line (QAC_LOG_FORMAT, default text)",
    )
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from autocomplete.loader import load_index
    from autocomplete.server.config import ServerConfig
    from autocomplete.server.runner import serve

    overrides = {
        "index": args.index,
        "redis_url": args.redis_url,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "allowed_origins": args.allowed_origins,
        "max_connections": args.max_connections,
        "blocklist": args.blocklist,
        "static_dir": args.static_dir,
        "demo_tokens": args.demo_tokens,
        "log_level": args.log_level,
        "log_format": args.log_format,
    }
    config = ServerConfig.from_env(overrides=overrides)
    if config.blocklist is not None:
        # Checked once here, like the index: a bad file is one clear line before workers start.
        from autocomplete.blocklist import Blocklist, BlocklistError
        from autocomplete.server.errors import ConfigError

        try:
            Blocklist.load(config.blocklist)
        except BlocklistError as exc:
            raise ConfigError(f"QAC_BLOCKLIST: {exc}") from None
    # Verified once here (checksums), so a bad index is one line and exit 1, before any
    # worker starts; workers then check its fingerprint (stat calls) and map the files.
    index = load_index(config.index)
    serve(config, index)
    return 0
