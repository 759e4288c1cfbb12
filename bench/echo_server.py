"""A bare WebSocket echo server: the floor `bench/load.py` measures our server against.

Same stack as `autocomplete serve` (uvicorn, the websockets sans-I/O protocol, Starlette), no
parsing, ranking or session store: it sends a `hello`, then every text frame straight back.
The load generator matches replies by their `id`, so it drives both with the same code.

    python bench/echo_server.py --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text('{"type":"hello","session":"echo","index":"echo"}')
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        pass


async def healthz(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[WebSocketRoute("/ws", echo), Route("/healthz", healthz)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    args = ap.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws="websockets-sansio",
        ws_max_size=65536,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
