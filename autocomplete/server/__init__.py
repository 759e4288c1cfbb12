"""The WebSocket completion server (`autocomplete serve`).

`create_app(config, index, store)` builds the Starlette app; `ServerConfig.from_env()` reads
its settings; `runner.serve` runs it under uvicorn. Protocol parsing, rate limiting, the
store breaker and the handshake rules are pure modules, tested without sockets.
"""

from .app import create_app
from .config import ServerConfig
from .errors import ConfigError, ProtocolError, ServerError

__all__ = ["ConfigError", "ProtocolError", "ServerConfig", "ServerError", "create_app"]
