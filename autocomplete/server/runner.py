"""Run the app under uvicorn: one process, or a supervisor with N worker processes.

One worker serves the app built here from the already loaded index. N workers each build
their own app through `app_from_env` (uvicorn spawns fresh interpreters), reading the same
`QAC_*` settings this process puts in the environment, and mmap the same index files, so the
operating system shares their pages. They count in prometheus-client's multiprocess mode
(`multiproc.metrics_dir`), so one scrape of `/metrics` reports them all.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os

import uvicorn
from starlette.types import ASGIApp

from autocomplete.loader import LoadedIndex
from session_store.base import StoreConfig, create_store

from .app import create_app
from .config import ServerConfig
from .drain import PROTOCOL_IMPORT
from .logs import log_config
from .multiproc import metrics_dir
from .timeouts import PROTOCOL_IMPORT as HTTP_PROTOCOL_IMPORT

FACTORY_IMPORT = "autocomplete.server.app:app_from_env"
#: uvicorn's own deadline runs this long after ours, as a backstop for a wedged connection.
_BACKSTOP_S = 1.0

log = logging.getLogger("autocomplete.server")


def uvicorn_config(
    config: ServerConfig, app: ASGIApp | str, *, configure_logging: bool = True
) -> uvicorn.Config:
    """uvicorn settings for `config` serving `app` (an ASGI app, or a factory import string).

    configure_logging: False leaves the process's logging alone (for in-process tests).
    """
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=config.host,
        port=config.port,
        workers=config.workers,
        ws=PROTOCOL_IMPORT,
        http=HTTP_PROTOCOL_IMPORT,
        # Forwarding headers are judged by `peers` against QAC_TRUSTED_PROXIES, not by
        # uvicorn (whose default trusts X-Forwarded-For from 127.0.0.1).
        proxy_headers=False,
        ws_max_size=config.max_frame_bytes,
        # Frames are a few hundred bytes: compressing them costs CPU on every keystroke and
        # saves next to nothing on the wire.
        ws_per_message_deflate=False,
        ws_ping_interval=config.ws_ping_interval_s or None,
        ws_ping_timeout=config.ws_ping_interval_s or None,
        lifespan="on",
        log_config=log_config(config.log_level, config.log_format) if configure_logging else None,
        log_level=config.log_level,
        timeout_graceful_shutdown=math.ceil(config.drain_timeout_s + _BACKSTOP_S),
        server_header=False,
    )


def worker_config(config: ServerConfig, index: LoadedIndex) -> ServerConfig:
    """`config` for worker processes: with the fingerprint of the index verified here, so each
    worker checks cheaply that it maps the same files instead of reading them all again."""
    return dataclasses.replace(config, index_fingerprint=index.files.fingerprint)


def serve(config: ServerConfig, index: LoadedIndex) -> None:
    """Serve until SIGINT/SIGTERM; returns after a graceful shutdown."""
    made_up_secret = config.session_secret is None
    config = config.with_runtime_secrets()  # one set for every worker
    if config.workers == 1:
        with metrics_dir(os.environ, config.workers):  # the operator's, if set: cleared
            store = create_store(config.redis_url, StoreConfig())
            uv_config = uvicorn_config(config, create_app(config, index, store))
            _warn(config, made_up_secret)
            uvicorn.Server(uv_config).run()
        return
    from uvicorn.supervisors import Multiprocess

    create_store(config.redis_url, StoreConfig())  # a malformed URL fails here, not per worker
    os.environ.update(worker_config(config, index).to_env())  # what the workers build from
    uv_config = uvicorn_config(config, FACTORY_IMPORT)  # also sets up logging
    _warn(config, made_up_secret)
    # Set before any worker starts: prometheus-client picks its mode when a worker imports it.
    with metrics_dir(os.environ, config.workers):
        sock = uv_config.bind_socket()
        Multiprocess(uv_config, sockets=[sock]).run()


def _warn(config: ServerConfig, made_up_secret: bool) -> None:
    """Settings that work, but not the way an operator may think (logged once at start)."""
    if config.redis_url is not None and made_up_secret:
        log.warning(
            "QAC_SESSION_SECRET is not set: session ids and pseudonyms are keyed by a secret "
            "made up for this run, so sessions end at restart and other hosts cannot resume them"
        )
    if config.workers > 1 and config.redis_url is None:
        log.warning(
            "%d workers without --redis: each worker keeps its own sessions, so a "
            "reconnect may lose its session context",
            config.workers,
        )
