"""The Starlette app: `/ws` completions, `/healthz`, `/metrics`, the demo page and its files.

`create_app(config, index, store)` builds an app from objects (tests pass a small index and
any store); `app_from_env()` is the factory each uvicorn worker process calls, building its
own from the `QAC_*` environment. The index arrays are mmap'd, so N workers share one copy of
their pages; each worker has its own store client, connection limit and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect

from autocomplete.blocklist import ReloadingBlocklist
from autocomplete.loader import LoadedIndex, load_index
from session_store.base import SessionStore, StoreConfig, create_store
from session_store.fresh import FreshConfig, FreshCounts, create_fresh_counts

from .config import ServerConfig
from .connection import Connection, Services
from .drain import DRAIN_EXTENSION, DrainHook
from .freshness import FreshFeed
from .handshake import origin_allowed, resolve_identity, session_cookie
from .metrics import ServerMetrics
from .protocol import Limits, hello_frame
from .store_gateway import StoreGateway

log = logging.getLogger("autocomplete.server")

#: Seconds a client refused for capacity is told to wait (HTTP Retry-After).
RETRY_AFTER_S = 1


class CompletionServer:
    """The state behind one app: index, store gateway, metrics and the open connections."""

    def __init__(
        self,
        config: ServerConfig,
        index: LoadedIndex,
        store: SessionStore,
        fresh: FreshCounts | None = None,
    ) -> None:
        self.config = config
        self.index = index
        self.metrics = ServerMetrics(index.version, index.model, store.name)
        self.gateway = StoreGateway(
            store,
            self.metrics,
            read_timeout_s=config.store_read_timeout_s,
            write_timeout_s=config.store_write_timeout_s,
            retry_after_s=config.store_retry_after_s,
        )
        # A missing or broken file raises here: serving without the operator's rules is
        # worse than not starting (`serve` checks the file first, for a clear message).
        self.blocklist = (
            ReloadingBlocklist(config.blocklist) if config.blocklist is not None else None
        )
        self.fresh: FreshFeed | None = None
        if config.fresh_refresh_s > 0:
            counts = (
                fresh
                if fresh is not None
                else create_fresh_counts(
                    config.redis_url,
                    FreshConfig(config.fresh_half_life_s, config.fresh_max_items),
                )
            )
            self.fresh = FreshFeed(
                counts, self.gateway, config.fresh_refresh_s, config.fresh_max_items
            )
        self.services = Services(
            ranker=index.ranker,
            gateway=self.gateway,
            metrics=self.metrics,
            limits=Limits(
                config.max_prefix_chars, config.max_query_chars, config.default_k, config.max_k
            ),
            rate_per_s=config.rate_per_s,
            rate_burst=config.rate_burst,
            flood_close_after=config.flood_close_after,
            drain_timeout_s=config.drain_timeout_s,
            blocks=self.blocklist.blocks if self.blocklist is not None else None,
            fresh=self.fresh,
        )
        self.connections: set[Connection] = set()
        self.open_slots = 0  # handshakes accepted or in progress (reserved before awaiting)

    async def websocket(self, ws: WebSocket) -> None:
        m = self.metrics
        refusal = self._refusal(ws)
        if refusal is not None:
            reason, response = refusal
            m.refused_connections.labels(reason).inc()
            log.debug("refused WebSocket from %s: %s", _peer(ws), reason)
            await ws.send_denial_response(response)
            return
        self.open_slots += 1  # reserved before the first await, so the limit is exact
        try:
            identity = resolve_identity(ws.query_params, ws.cookies)
            headers = []
            if identity.new_session:
                headers.append((b"set-cookie", session_cookie(identity.session).encode()))
            await ws.accept(headers=headers)
            conn = Connection(ws, self.services, identity)
            self.connections.add(conn)
            m.open_connections.inc()
            try:
                hook = ws.scope.get("extensions", {}).get(DRAIN_EXTENSION)
                if isinstance(hook, DrainHook):
                    hook.subscribe(conn.drain)
                await ws.send_text(hello_frame(identity.session, self.index.version))
                await conn.run()
            finally:
                self.connections.discard(conn)
                m.open_connections.dec()
        except (WebSocketDisconnect, OSError):  # the client left mid-handshake: routine
            log.debug("WebSocket ended early", exc_info=True)
        except Exception:
            log.exception("WebSocket handler failed")
        finally:
            self.open_slots -= 1

    def _refusal(self, ws: WebSocket) -> tuple[str, Response] | None:
        """Why this handshake must be refused (reason label, HTTP response), or None."""
        if not origin_allowed(
            ws.headers.get("origin"), ws.headers.get("host"), self.config.allowed_origins
        ):
            return "origin", PlainTextResponse("origin not allowed\n", status_code=403)
        if self.open_slots >= self.config.max_connections:
            return "capacity", PlainTextResponse(
                "too many connections; try again later\n",
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return None

    async def healthz(self, request: Request) -> Response:
        """200 "ok", or 200 "degraded" when the store is down (completions still work)."""
        reachable = await self.gateway.ping()
        return JSONResponse(
            {
                "status": "ok" if reachable else "degraded",
                "index": {
                    "loaded": True,
                    "version": self.index.version,
                    "model": self.index.model,
                    "labels": len(self.index.labels.counts),
                },
                "store": {"name": self.gateway.name, "reachable": reachable},
                "connections": len(self.connections),
                "pid": os.getpid(),
                **self._blocklist_health(),
                "fresh": None
                if self.fresh is None
                else {
                    "queries": len(self.fresh.index),
                    "refreshes": self.fresh.refreshes,
                    "failures": self.fresh.failures,
                },
            }
        )

    def _blocklist_health(self) -> dict[str, object]:
        """`blocklist` (rules in force, reloads) and `blocklist_error` (None, or why the
        file's latest version was not applied; the previous rules still are)."""
        if self.blocklist is None:
            return {"blocklist": None, "blocklist_error": None}
        rules = self.blocklist.current()  # also notices an edit nobody has typed past yet
        return {
            "blocklist": {"rules": rules.rules, "reloads": self.blocklist.reloads},
            "blocklist_error": self.blocklist.last_error,
        }

    async def metrics_endpoint(self, request: Request) -> Response:
        body, content_type = self.metrics.render()
        return Response(body, media_type=content_type)

    async def demo_page(self, request: Request) -> Response:
        page = Path(self.config.static_dir) / "index.html"
        if not page.is_file():
            return PlainTextResponse(
                f"demo page not found at {page}; set QAC_STATIC_DIR\n", status_code=404
            )
        return FileResponse(page)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        log.info(
            "serving index %s (%s, %d labels) with the %s session store",
            self.index.version,
            self.index.model,
            len(self.index.labels.counts),
            self.gateway.name,
        )
        refresher = None
        if self.fresh is not None:
            refresher = asyncio.create_task(self.fresh.run(), name="qac-fresh-refresh")
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
                await self.fresh.close()  # type: ignore[union-attr]
            await self.gateway.close()


def create_app(
    config: ServerConfig,
    index: LoadedIndex,
    store: SessionStore,
    fresh: FreshCounts | None = None,
) -> Starlette:
    """Build the ASGI app. The app owns `store` from now on and closes it at shutdown.

    `fresh`: where submits are counted for fresh completions; None builds it from the config
    (Redis with `redis_url`, else memory). Unused when `config.fresh_refresh_s` is 0.
    """
    server = CompletionServer(config, index, store, fresh)
    app = Starlette(
        routes=[
            WebSocketRoute("/ws", server.websocket),
            Route("/healthz", server.healthz),
            Route("/metrics", server.metrics_endpoint),
            Route("/", server.demo_page),
            Mount("/static", _static_files(config.static_dir), name="static"),
        ],
        lifespan=server.lifespan,
    )
    app.state.server = server
    return app


def app_from_env() -> Starlette:
    """uvicorn app factory for worker processes: config from `QAC_*`, index mmap'd here.

    The supervisor verified the index checksums before starting workers and passes the
    index's fingerprint, so a worker only checks by stat() calls that it maps those same files
    (fast, and pages are shared between workers); without one it verifies every checksum.
    """
    config = ServerConfig.from_env()
    index = load_index(config.index, expect_fingerprint=config.index_fingerprint)
    store = create_store(config.redis_url, StoreConfig())
    return create_app(config, index, store)


def _static_files(directory: str) -> ASGIApp:
    """The demo's files, or a clear 404 when this install has none (e.g. a plain wheel)."""
    if os.path.isdir(directory):
        return StaticFiles(directory=directory)
    return PlainTextResponse(
        f"no static files at {directory}; set QAC_STATIC_DIR\n", status_code=404
    )


def _peer(ws: WebSocket) -> str:
    return f"{ws.client.host}:{ws.client.port}" if ws.client else "?"
