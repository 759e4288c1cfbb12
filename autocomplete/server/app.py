"""The Starlette app: `/ws` completions, `/v1/complete`, `/healthz`, `/metrics`, the demo page
and the widget's files.

`/static/` and `/v1/complete` answer pages of other sites that the server allows (CORS, the
same origins that may open `/ws`), so a site embeds the widget with one script tag.

`create_app(config, index, store)` builds an app from objects (tests pass a small index and
any store); `app_from_env()` is the factory each uvicorn worker process calls, building its
own from the `QAC_*` environment. The index arrays are mmap'd, so N workers share one copy of
their pages; each worker has its own store client and connection limit, and its metrics join
the other workers' in one `/metrics` (`metrics`, `multiproc`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute, request_response
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect

from autocomplete.blend import BlendRanker
from autocomplete.blocklist import ReloadingBlocklist
from autocomplete.loader import LoadedIndex, load_index
from autocomplete.model.memo import MemoStats
from autocomplete.ranking import ANONYMOUS, Ranker
from autocomplete.result_cache import CachedRanker
from session_store.base import SessionStore, StoreConfig, create_store
from session_store.fresh import FreshConfig, FreshCounts, create_fresh_counts
from session_store.ledger import RedisLedger

from .assemble import EXTRA
from .assemble import memo_stats as reply_memo_stats
from .assets import static_assets
from .auth import SessionSigner, TokenVerifier
from .clients import ClientTable
from .config import ServerConfig
from .connection import Connection
from .cors import CrossOrigin
from .demo import demo_token_endpoint
from .drain import DRAIN_EXTENSION, DrainHook
from .fairness import ClientLimits
from .freshness import FreshFeed
from .gcpolicy import frozen_heap
from .handshake import Authenticator, Identity, origin_allowed, session_cookie
from .health import Health
from .http_complete import HttpCompletions
from .logs import LogLimiter, configure_privacy
from .metrics import ServerMetrics
from .peers import Peer, in_networks, parse_networks, resolve_peer
from .protocol import Limits, hello_frame
from .pseudonyms import Pseudonyms
from .services import Services
from .store_gateway import StoreGateway
from .timeouts import configure_header_timeout

log = logging.getLogger("autocomplete.server")

#: Seconds a client refused for capacity is told to wait (HTTP Retry-After).
RETRY_AFTER_S = 1
_CLIENT_CAP = PlainTextResponse(
    "too many connections from your address; close some first\n",
    status_code=429,
    headers={"Retry-After": str(RETRY_AFTER_S)},
)
_CLIENT_RATE = PlainTextResponse(
    "too many new connections from your address; slow down\n",
    status_code=429,
    headers={"Retry-After": str(RETRY_AFTER_S)},
)


class CompletionServer:
    """The state behind one app: index, store gateway, metrics and the open connections."""

    def __init__(
        self,
        config: ServerConfig,
        index: LoadedIndex,
        store: SessionStore,
        fresh: FreshCounts | None = None,
    ) -> None:
        config = config.with_runtime_secrets()
        assert config.session_secret is not None
        self.config = config
        self.index = index
        self.pseudonyms = Pseudonyms(config.session_secret)
        self._logs = LogLimiter(log)
        configure_privacy(self.pseudonyms)
        self.proxies = parse_networks(config.trusted_proxies)
        configure_header_timeout(
            config.header_timeout_s, config.max_connections_per_client, self.proxies
        )
        self.metrics_allow = parse_networks(config.metrics_allow)
        self.auth = Authenticator(
            TokenVerifier.from_settings(
                secret=config.jwt_secret,
                public_key_file=config.jwt_public_key_file,
                algorithms=config.jwt_algorithms,
                audience=config.jwt_audience,
                issuer=config.jwt_issuer,
                leeway_s=config.jwt_leeway_s,
            ),
            SessionSigner(config.session_secret),
            self.proxies,
            config.trusted_user_header,
        )
        self.metrics = ServerMetrics(index.version, index.model, store.name)
        self.metrics.connection_limit.set(config.max_connections)
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
                else create_fresh_counts(config.redis_url, fresh_config(config))
            )
            self.fresh = FreshFeed(
                counts,
                self.gateway,
                config.fresh_refresh_s,
                config.fresh_max_items,
                self.pseudonyms,
                config.fresh_anonymous_weight,
            )
        self.clients = ClientLimits(
            ClientTable(
                config.max_connections_per_client,
                config.client_rate_per_s,
                config.client_rate_burst,
                handshake_rate_per_s=config.client_handshake_rate_per_s,
                handshake_burst=config.client_handshake_burst,
            ),
            RedisLedger(config.redis_url) if config.redis_url is not None else None,
            self.pseudonyms,
            self.metrics,
            deadline_s=config.store_read_timeout_s,
        )
        ranker: Ranker = index.ranker
        self.metrics.memo_source = _memo_source(ranker)
        if config.result_cache > 0:
            cached = CachedRanker(ranker, config.result_cache, self.metrics.result_cache_lookup)
            # what `Services.ranked` asks of the ranker for a reply of default_k items
            n = config.default_k + (EXTRA if self.blocklist is not None else 0)
            self.metrics.result_cache_entries.set(cached.warm(index.labels.heavy_prefixes(), n))
            ranker = cached
        self.services = Services(
            ranker=ranker,
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
            clients=self.clients,
            idle_timeout_s=config.idle_timeout_s,
            popular=lambda k: index.mpc.complete(ANONYMOUS, "", k),
        )
        self.connections: set[Connection] = set()
        self.open_slots = 0  # handshakes accepted or in progress (reserved before awaiting)
        self._conn_ids = itertools.count()

    async def websocket(self, ws: WebSocket) -> None:
        m = self.metrics
        refusal = self._refusal(ws)
        if refusal is not None:
            await self._refuse(ws, *refusal)
            return
        self.open_slots += 1  # reserved before the first await, so the limit is exact
        identity: Identity | None = None
        conn_id = f"{os.getpid()}-{next(self._conn_ids)}"
        try:
            identity = self.auth.identify(
                ws.query_params,
                ws.cookies,
                ws.headers,
                ws.client.host if ws.client else None,
                ws.scope.get("scheme", "ws"),
            )
            if not await self.clients.admit(identity.peer.address, conn_id):
                client = self.clients.key(identity.peer.address)
                await self._refuse(ws, "client_cap", _CLIENT_CAP, client)
                return
            m.auth.labels(identity.rejected or identity.auth).inc()
            headers = []
            if identity.new_session:
                cookie = session_cookie(identity.session, identity.peer.secure)
                headers.append((b"set-cookie", cookie.encode()))
            await ws.accept(headers=headers)
            conn = Connection(ws, self.services, identity)
            self.connections.add(conn)
            m.open_connections.inc()
            try:
                hook = ws.scope.get("extensions", {}).get(DRAIN_EXTENSION)
                if isinstance(hook, DrainHook):
                    hook.subscribe(conn.drain)
                await ws.send_text(
                    hello_frame(
                        identity.session,
                        self.index.version,
                        identity.auth,
                        identity.rejected,
                        self.services.limits,
                    )
                )
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
            if identity is not None:
                self.clients.release(identity.peer.address, conn_id)

    async def _refuse(
        self, ws: WebSocket, reason: str, response: Response, client: str | None = None
    ) -> None:
        self.metrics.refused_connections.labels(reason).inc()
        self._logs.log(
            logging.INFO,
            f"refused:{reason}",
            "refused a WebSocket (%s)%s",
            reason,
            f" from {client}" if client else "",
        )
        await ws.send_denial_response(response)

    def _refusal(self, ws: WebSocket) -> tuple[str, Response] | None:
        """Why this handshake must be refused (reason label, HTTP response), or None."""
        peer = self.peer_of(ws)
        origin = ws.headers.get("origin")
        if origin is not None and not self.origin_ok(origin, ws):
            return "origin", PlainTextResponse("origin not allowed\n", status_code=403)
        if self.open_slots >= self.config.max_connections:
            return "capacity", PlainTextResponse(
                "too many connections; try again later\n",
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        if self.clients.table.open_count(peer.address) >= self.clients.table.max_connections:
            return "client_cap", _CLIENT_CAP  # before any credential is checked: cheap
        if not self.clients.table.allow_handshake(peer.address):
            return "client_rate", _CLIENT_RATE
        return None

    def origin_ok(self, origin: str, conn: HTTPConnection) -> bool:
        """May a page of `origin` use this server (open `/ws`, read `/static/`, call
        `/v1/complete`)? Its own origin, `allowed_origins`, or any with `*`."""
        return origin_allowed(
            origin,
            conn.headers.get("host"),
            self.config.allowed_origins,
            self.peer_of(conn).secure,
        )

    def peer_of(self, conn: HTTPConnection) -> Peer:
        """Who sent `conn`: the TCP peer, or the client a trusted proxy forwarded for."""
        return resolve_peer(
            conn.client.host if conn.client else None,
            conn.scope.get("scheme", "http"),
            conn.headers.get("x-forwarded-for"),
            conn.headers.get("x-forwarded-proto"),
            self.proxies,
        )

    async def metrics_endpoint(self, request: Request) -> Response:
        if self.metrics_allow and not in_networks(
            self.peer_of(request).address, self.metrics_allow
        ):
            return PlainTextResponse("forbidden\n", status_code=403)
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
        if self.config.demo_tokens:
            log.warning(
                "demo tokens are on: POST /demo/token hands anyone a token for any user id. "
                "Never run a public server like this."
            )
        background = [
            asyncio.create_task(self.clients.run(), name="qac-client-limits"),
            asyncio.create_task(self.metrics.run(), name="qac-runtime-metrics"),
        ]
        if self.fresh is not None:
            background.append(asyncio.create_task(self.fresh.run(), name="qac-fresh-refresh"))
        try:
            with frozen_heap() if self.config.gc_freeze else contextlib.nullcontext(0) as frozen:
                if frozen:
                    log.info("%d objects of the loaded heap frozen out of GC passes", frozen)
                yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self.fresh is not None:
                await self.fresh.close()
            await self.clients.close()
            await self.gateway.close()
            self.metrics.close()


def fresh_config(config: ServerConfig) -> FreshConfig:
    """The fresh-count settings a server's config names (also what `export-fresh` reads)."""
    return FreshConfig(
        half_life_s=config.fresh_half_life_s,
        max_items=config.fresh_max_items,
        min_users=config.fresh_min_users,
        window_s=config.fresh_window_s,
        quota=config.fresh_quota,
    )


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
    any_origin = "*" in server.config.allowed_origins
    http_complete = HttpCompletions(server.services, server.peer_of, server.origin_ok)
    routes = [
        WebSocketRoute("/ws", server.websocket),
        Route(
            "/v1/complete",
            CrossOrigin(request_response(http_complete), server.origin_ok, any_origin=any_origin),
            methods=["GET", "HEAD", "OPTIONS"],
        ),
        Route("/healthz", Health(server).endpoint),
        Route("/metrics", server.metrics_endpoint),
        Route("/", server.demo_page),
        Mount(
            "/static",
            CrossOrigin(_static_files(config.static_dir), server.origin_ok, any_origin=any_origin),
            name="static",
        ),
    ]
    if server.config.demo_tokens:
        assert server.config.jwt_secret is not None  # `with_runtime_secrets` made one
        routes.append(
            Route(
                "/demo/token",
                demo_token_endpoint(
                    server.config.jwt_secret, config.jwt_audience, config.jwt_issuer
                ),
                methods=["POST"],
            )
        )
    app = Starlette(routes=routes, lifespan=server.lifespan)
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
    """The widget's and demo's files, or a clear 404 when this install has none (e.g. a
    plain wheel)."""
    if os.path.isdir(directory):
        return static_assets(directory)
    return PlainTextResponse(
        f"no static files at {directory}; set QAC_STATIC_DIR\n", status_code=404
    )


def _memo_source(ranker: Ranker) -> Callable[[], dict[str, MemoStats]]:
    """Every memo a worker keeps, by name: the ranker's (a blend's candidate sources and
    model; other rankers keep none) and the reply assembly's."""
    ranked = ranker.memo_stats if isinstance(ranker, BlendRanker) else dict

    def stats() -> dict[str, MemoStats]:
        return {**ranked(), **reply_memo_stats()}

    return stats
