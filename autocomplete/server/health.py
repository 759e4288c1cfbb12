"""`GET /healthz`: is this worker serving, and is its session store reachable.

Public answer: status ("ok", or "degraded" with HTTP 200 while the store is down and
completions still work), the index, the store, open connections, blocklist and fresh
summaries. Internals (pid, breaker state, the blocklist's error text, fresh failures, tracked
client addresses) only for a caller holding `QAC_HEALTH_TOKEN`: they help an operator and an
attacker alike. The probe's store ping never changes the breaker (`StoreGateway.ping`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sized
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from autocomplete.blocklist import ReloadingBlocklist
from autocomplete.loader import LoadedIndex

from .config import ServerConfig
from .fairness import ClientLimits
from .freshness import FreshFeed
from .store_gateway import StoreGateway


class Served(Protocol):
    """What the health report reads of a server (`app.CompletionServer`)."""

    @property
    def config(self) -> ServerConfig: ...
    @property
    def index(self) -> LoadedIndex: ...
    @property
    def gateway(self) -> StoreGateway: ...
    @property
    def connections(self) -> Sized: ...
    @property
    def blocklist(self) -> ReloadingBlocklist | None: ...
    @property
    def fresh(self) -> FreshFeed | None: ...
    @property
    def clients(self) -> ClientLimits: ...


class Health:
    """The `/healthz` endpoint of one server."""

    def __init__(self, server: Served) -> None:
        self.server = server

    def _may_see_details(self, request: Request) -> bool:
        """Only a caller holding the configured health token sees internals."""
        token = self.server.config.health_token
        if token is None:
            return False
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    async def endpoint(self, request: Request) -> Response:
        """200 "ok", or 200 "degraded" when the store is down (completions still work)."""
        server = self.server
        reachable = await server.gateway.ping()
        fresh = server.fresh
        body: dict[str, object] = {
            "status": "ok" if reachable else "degraded",
            "index": {
                "loaded": True,
                "version": server.index.version,
                "model": server.index.model,
                "labels": len(server.index.labels.counts),
            },
            "store": {"name": server.gateway.name, "reachable": reachable},
            "connections": len(server.connections),
            "blocklist": self._blocklist_health(),
            "fresh": None
            if fresh is None
            else {"queries": len(fresh.index), "refreshes": fresh.refreshes},
        }
        if self._may_see_details(request):
            body["details"] = {
                "pid": os.getpid(),
                "breaker": server.gateway.breaker.state.value,
                "blocklist_error": server.blocklist.last_error if server.blocklist else None,
                "fresh_failures": None if fresh is None else fresh.failures,
                "clients": len(server.clients.table),
            }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _blocklist_health(self) -> dict[str, object] | None:
        """Rules in force, reloads, and whether the file's latest version failed to apply
        (the previous rules still are; the reason is a detail for the health token)."""
        blocklist = self.server.blocklist
        if blocklist is None:
            return None
        rules = blocklist.current()  # also notices an edit nobody has typed past yet
        return {
            "rules": rules.rules,
            "reloads": blocklist.reloads,
            "error": blocklist.last_error is not None,
        }
