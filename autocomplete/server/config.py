"""Server settings: one frozen dataclass, read from `QAC_*` environment variables and flags.

Every field `name` has the environment variable `QAC_<NAME>` (e.g. `max_connections` is
`QAC_MAX_CONNECTIONS`). Flags given to `autocomplete serve` override the environment. The
same variables carry the settings to uvicorn's worker processes (`to_env`), which build their
app from them, so one parser serves operators, Docker and workers alike.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_store.base import FRESH_HALF_LIFE_S, FRESH_MIN_USERS, MAX_QUERY_CHARS

from .auth import new_secret
from .errors import ConfigError
from .logformat import LOG_FORMATS

ENV_PREFIX = "QAC_"
#: The largest `k` a client may ask for; indexes precompute at least this many per prefix.
HARD_MAX_K = 50


def default_static_dir() -> str:
    """`web_demo/` of the source tree this package runs from (a checkout or editable install).

    A plain `pip install .` does not ship the demo files; set `QAC_STATIC_DIR` there (the
    Dockerfile does).
    """
    return str(Path(__file__).resolve().parents[2] / "web_demo")


@dataclass(frozen=True)
class ServerConfig:
    """Everything `autocomplete serve` can be told.

    index: index directory (required; `QAC_INDEX` or `--index`).
    redis_url: Redis URL for session state shared by workers and hosts; None (default) uses
        the embedded in-memory store, which is per worker process. One server:
        ``redis://[:password@]host:port/db`` (``rediss://`` for TLS). A Redis Cluster is named
        by its scheme, listing some of its nodes (any one that answers finds the rest):
        ``redis+cluster://[:password@]host:port,host:port,...`` (``rediss+cluster://`` for
        TLS; database 0 only). Sessions, history, fresh counts and the per-client ledger all
        use it (`session_store.client`).
    host, port: where to listen (default 127.0.0.1:8000).
    workers: uvicorn worker processes (>= 1), each mmap-ing the same index files.
    allowed_origins: browser Origins allowed to open `/ws`, to run the widget from
        `/static/` and to read `/v1/complete` (CORS) (comma-separated in the environment).
        The server's own origin (Origin's host equals the Host header) is always allowed;
        `*`: any origin. Clients that send no Origin (non-browsers) are always allowed: the
        check protects browsers from cross-site WebSocket hijacking.
    max_connections: open WebSockets per worker; beyond it the handshake gets HTTP 503.
    max_frame_bytes: largest client frame; bigger ones close the connection with 1009.
    max_prefix_chars, max_query_chars: longest prefix / submitted query after
        normalisation; longer ones get a `bad_request` error. `max_query_chars` is at most
        the session store's limit.
    default_k, max_k: completions returned when `k` is absent, and the most returned (a
        larger `k` is served as `max_k`; `hello` announces it) (1 <= default_k <= max_k <= 50).
    rate_per_s, rate_burst: per-connection token bucket; frames beyond it get `rate_limited`.
    flood_close_after: rate-limited frames tolerated within ~10 s before closing with 1008.
    store_read_timeout_s: how long a keystroke waits for session context before completing
        without it.
    store_write_timeout_s: how long a `submit` waits for the store before acking
        `stored: false`.
    store_retry_after_s: after a store failure, keystrokes skip the store for this long
        (one probe then tests it again), so a dead Redis does not slow every keystroke.
    drain_timeout_s: on shutdown, how long connections get to finish in-flight replies and
        close with 1001 before uvicorn closes the rest with 1012.
    ws_ping_interval_s: WebSocket keepalive ping interval (0 disables).
    blocklist: a blocklist file (`autocomplete.blocklist` format: words, phrases, `re:`
        patterns); None (default) blocks nothing. Every item sent passes it, whatever its
        source. The file is re-read within about a second of a change, without a restart; a
        file that no longer parses keeps the previous rules and `/healthz` reports
        `blocklist_error`. A missing or broken file at start is an error.
    fresh_refresh_s: how often each worker re-reads the decayed counts of submitted queries
        to offer new and trending ones as completions (`source: "fresh"`); 0 turns counting
        and fresh completions off. Counts live in Redis with `redis_url` (shared, they
        survive restarts), else in the worker's memory.
    fresh_half_life_s: seconds after which a submit counts half as much (default 6 h).
    fresh_max_items: queries whose counts are kept (the most counted; default 20,000).
    fresh_min_users: a submitted query reaches other people only once distinct identities
        worth this much sent it within one window (default 3): a verified user weighs 1, an
        anonymous client address `fresh_anonymous_weight` (default 0.25).
    fresh_window_s: the window in which an identity counts once per query (default 6 h).
    fresh_quota: submits of one identity counted per window (default 100).
    result_cache: answers to context-free keystrokes (no history, no previous query) each
        worker keeps, keyed by (prefix, k) (`autocomplete.result_cache`; default 10,000,
        ~15 MB); 0 turns the cache off. Fresh queries and the blocklist are applied after
        it, on every reply.
    gc_freeze: freeze the heap alive when a worker starts serving out of garbage collections
        (`server.gcpolicy`; default on): full collections then walk only what serving made
        since. Off (`QAC_GC_FREEZE=0`) leaves the collector as CPython sets it.
    static_dir: folder served at `/static/`, whose `index.html` is `GET /`.
    log_level: uvicorn and server log level (critical, error, warning, info, debug).
    log_format: "text" (default; uvicorn's lines) or "json" (one JSON object per line: time,
        level, logger, message, pid, and for HTTP access lines method, path, status; see
        `logformat`). Either way client addresses are pseudonyms and query strings dropped.

    Identity (see `handshake`; without a key or proxy every connection is anonymous):
    jwt_secret: HS256 secret (>= 32 bytes) that verifies the `token` parameter / `qac_token`
        cookie; the user id is the token's `sub`, and `exp` is required.
    jwt_public_key_file: PEM public key for RS256/ES256 tokens instead of a secret.
    jwt_algorithms: allowed `alg` values (default HS256 with a secret, RS256 and ES256 with a
        key; never taken from the token).
    jwt_audience, jwt_issuer: when set, tokens must carry this `aud` / `iss`.
    jwt_leeway_s: clock skew tolerated on `exp` (default 30 s).
    session_secret: key (>= 32 bytes) that signs session ids and keys log pseudonyms. Unset:
        a random one per server run (`serve` shares it with its workers), so sessions end
        with the run; set it when several hosts share Redis or sessions must survive restarts.
    trusted_proxies: addresses or CIDR blocks of reverse proxies whose `X-Forwarded-For`,
        `X-Forwarded-Proto` and `trusted_user_header` are believed (empty: nobody's).
    trusted_user_header: header in which a trusted proxy names the authenticated user.
    demo_tokens: serve `POST /demo/token`, which mints a token for any user id it is asked
        for. A demo convenience that lets anyone be anyone: never in production.

    Abuse and capacity:
    max_connections_per_client: open WebSockets per client address (across workers when
        `redis_url` is set); beyond it the handshake gets HTTP 429.
    client_rate_per_s, client_rate_burst: frames per second from one client address, summed
        over its connections (across workers when `redis_url` is set).
    client_handshake_rate_per_s, client_handshake_burst: new WebSockets per second from one
        client address (per process); beyond it the handshake gets HTTP 429 before any
        credential is checked.
    idle_timeout_s: a WebSocket that sends no frame for this long is closed (4408).
    header_timeout_s: a connection must finish sending its HTTP request headers within this.
    health_token: bearer token that shows `/healthz` details (pid, blocklist errors); unset:
        details are never shown.
    metrics_allow: addresses or CIDR blocks that may read `/metrics` (empty: everyone).
    index_fingerprint: set by `autocomplete serve` for its worker processes, not by
        operators: the fingerprint of the index the supervisor verified (every checksum), so
        each worker checks with stat() calls alone that it maps those same files, and refuses
        to start if they changed. None (default): a process that builds its app from the
        environment verifies every checksum itself.
    """

    index: str
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    allowed_origins: tuple[str, ...] = ()
    max_connections: int = 1000
    max_frame_bytes: int = 8192
    max_prefix_chars: int = 200
    max_query_chars: int = 500
    default_k: int = 10
    max_k: int = HARD_MAX_K
    rate_per_s: float = 50.0
    rate_burst: int = 100
    flood_close_after: int = 50
    store_read_timeout_s: float = 0.02
    store_write_timeout_s: float = 0.5
    store_retry_after_s: float = 1.0
    drain_timeout_s: float = 5.0
    ws_ping_interval_s: float = 20.0
    blocklist: str | None = None
    fresh_refresh_s: float = 2.0
    fresh_half_life_s: float = FRESH_HALF_LIFE_S
    fresh_max_items: int = 20_000
    fresh_min_users: float = FRESH_MIN_USERS
    fresh_anonymous_weight: float = 0.25
    fresh_window_s: float = FRESH_HALF_LIFE_S
    fresh_quota: int = 100
    result_cache: int = 10_000
    gc_freeze: bool = True
    static_dir: str = field(default_factory=default_static_dir)
    log_level: str = "info"
    log_format: str = "text"
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_public_key_file: str | None = None
    jwt_algorithms: tuple[str, ...] = ()
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway_s: float = 30.0
    session_secret: str | None = field(default=None, repr=False)
    trusted_proxies: tuple[str, ...] = ()
    trusted_user_header: str | None = None
    demo_tokens: bool = False
    max_connections_per_client: int = 20
    client_rate_per_s: float = 200.0
    client_rate_burst: int = 400
    client_handshake_rate_per_s: float = 10.0
    client_handshake_burst: int = 40
    idle_timeout_s: float = 120.0
    header_timeout_s: float = 10.0
    health_token: str | None = field(default=None, repr=False)
    metrics_allow: tuple[str, ...] = ()
    index_fingerprint: str | None = None

    def __post_init__(self) -> None:
        if not self.index:
            raise ConfigError("no index directory: pass --index DIR or set QAC_INDEX")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        for name in (
            "workers",
            "max_connections",
            "max_frame_bytes",
            "max_prefix_chars",
            "max_query_chars",
            "rate_burst",
            "flood_close_after",
            "fresh_max_items",
            "fresh_quota",
            "max_connections_per_client",
            "client_rate_burst",
            "client_handshake_burst",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{_env(name)} must be >= 1, got {getattr(self, name)}")
        for name in (
            "rate_per_s",
            "store_read_timeout_s",
            "store_write_timeout_s",
            "store_retry_after_s",
            "drain_timeout_s",
            "fresh_half_life_s",
            "fresh_min_users",
            "fresh_window_s",
            "client_rate_per_s",
            "client_handshake_rate_per_s",
            "idle_timeout_s",
            "header_timeout_s",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{_env(name)} must be > 0, got {getattr(self, name)}")
        if self.fresh_refresh_s < 0:
            raise ConfigError(f"QAC_FRESH_REFRESH_S must be >= 0, got {self.fresh_refresh_s}")
        if self.result_cache < 0:
            raise ConfigError(f"QAC_RESULT_CACHE must be >= 0, got {self.result_cache}")
        if self.ws_ping_interval_s < 0:
            raise ConfigError(f"QAC_WS_PING_INTERVAL_S must be >= 0, got {self.ws_ping_interval_s}")
        if not 1 <= self.default_k <= self.max_k <= HARD_MAX_K:
            raise ConfigError(
                f"need 1 <= QAC_DEFAULT_K <= QAC_MAX_K <= {HARD_MAX_K}, "
                f"got {self.default_k} and {self.max_k}"
            )
        if self.max_query_chars > MAX_QUERY_CHARS:
            raise ConfigError(
                f"QAC_MAX_QUERY_CHARS must be <= {MAX_QUERY_CHARS} (the session store's limit), "
                f"got {self.max_query_chars}"
            )
        if not 0 < self.fresh_anonymous_weight <= 1:
            raise ConfigError(
                f"QAC_FRESH_ANONYMOUS_WEIGHT must be in (0, 1], got {self.fresh_anonymous_weight}"
            )
        if self.jwt_leeway_s < 0:
            raise ConfigError(f"QAC_JWT_LEEWAY_S must be >= 0, got {self.jwt_leeway_s}")
        if self.demo_tokens and self.jwt_public_key_file is not None:
            raise ConfigError(
                "QAC_DEMO_TOKENS mints HS256 tokens: it cannot be used with QAC_JWT_PUBLIC_KEY_FILE"
            )
        if self.log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
            raise ConfigError(f"QAC_LOG_LEVEL: unknown level {self.log_level!r}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"QAC_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}"
            )
        if self.index_fingerprint is not None:
            from autocomplete.model.manifest import is_fingerprint  # only workers pay for it

            if not is_fingerprint(self.index_fingerprint):
                raise ConfigError(
                    "QAC_INDEX_FINGERPRINT must be 64 lowercase hex digits (set by "
                    f"`autocomplete serve` for its workers), got {self.index_fingerprint!r}"
                )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> ServerConfig:
        """Read `QAC_*` variables from `env` (default `os.environ`); `overrides` win.

        Overrides whose value is None are ignored, so unset CLI flags fall through to the
        environment and then to the defaults. Malformed values raise `ConfigError`.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(_env(f.name))
            if raw is not None and (raw.strip() or f.name in _OPTIONAL or f.name in _LISTS):
                values[f.name] = _parse(f.name, raw)
        unknown = set(overrides or ()) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown server settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        values.setdefault("index", "")
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The `QAC_*` variables that make `from_env` rebuild this config exactly."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                out[_env(f.name)] = ",".join(value)
            elif isinstance(value, bool):
                out[_env(f.name)] = "1" if value else "0"
            else:
                out[_env(f.name)] = "" if value is None else str(value)
        return out

    def with_runtime_secrets(self) -> ServerConfig:
        """This config with the secrets a run needs and the operator left unset, made up:
        a session secret, and a JWT secret when demo tokens are on without one. Done once
        by the supervisor, so its workers share them (`to_env`)."""
        changes: dict[str, Any] = {}
        if self.session_secret is None:
            changes["session_secret"] = new_secret()
        if self.demo_tokens and self.jwt_secret is None:
            changes["jwt_secret"] = new_secret()
        return dataclasses.replace(self, **changes) if changes else self


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


def parse_origins(raw: str) -> tuple[str, ...]:
    """Comma-separated origins, trimmed, without trailing slashes."""
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def parse_list(raw: str) -> tuple[str, ...]:
    """Comma-separated values, trimmed."""
    return tuple(v.strip() for v in raw.split(",") if v.strip())


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(raw)


def _optional(raw: str) -> str | None:
    return raw.strip() or None


#: Settings whose empty variable means None (so `to_env` round-trips an unset value).
_OPTIONAL = (
    "redis_url",
    "blocklist",
    "jwt_secret",
    "jwt_public_key_file",
    "jwt_audience",
    "jwt_issuer",
    "session_secret",
    "trusted_user_header",
    "health_token",
    "index_fingerprint",
)

_PARSERS: dict[str, Callable[[str], Any]] = {
    **{name: _optional for name in _OPTIONAL},
    "allowed_origins": parse_origins,
    "jwt_algorithms": parse_list,
    "trusted_proxies": parse_list,
    "metrics_allow": parse_list,
    "demo_tokens": parse_bool,
    "gc_freeze": parse_bool,
    "log_level": lambda raw: raw.strip().lower(),
    "log_format": lambda raw: raw.strip().lower(),
}


def _parse(name: str, raw: str) -> Any:
    """Parse one variable by the type of the field's default (int, float or str)."""
    parser = _PARSERS.get(name)
    if parser is None:
        kind = type(_DEFAULTS.get(name, ""))
        parser = kind if kind in (int, float) else str.strip
    try:
        return parser(raw)
    except ValueError:
        raise ConfigError(f"{_env(name)}: cannot read {raw!r} as {_type_name(name)}") from None


#: Settings whose empty variable means an empty list.
_LISTS = ("allowed_origins", "jwt_algorithms", "trusted_proxies", "metrics_allow")


def _type_name(name: str) -> str:
    return type(_DEFAULTS.get(name, "")).__name__


_DEFAULTS: dict[str, Any] = {
    f.name: f.default
    for f in dataclasses.fields(ServerConfig)
    if f.default is not dataclasses.MISSING
}
