"""Where a request really comes from: the TCP peer, or what a trusted proxy says it forwarded.

Per-client limits and proxy-asserted identities are only as good as the address they key on.
A header like `X-Forwarded-For` is believed only when the TCP peer is one of the configured
proxies, and then only the hops the proxies appended (the right-most address that is not a
proxy is the client); anyone else's headers are ignored. uvicorn's own proxy-header rewriting
is switched off (see `runner.uvicorn_config`), so the ASGI `client` is always the TCP peer and
this module is the one place that decides.

Pure: takes addresses and header values, returns addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """CIDR blocks or single addresses; a malformed one raises `ConfigError`."""
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"not an IP address or CIDR block: {entry!r}") from None
    return tuple(out)


def in_networks(address: str | None, networks: Sequence[Network]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


@dataclass(frozen=True, slots=True)
class Peer:
    """address: the client's address (the key for per-client limits).
    via_proxy: the request came through a trusted proxy (so its headers are believed).
    secure: the client's connection is TLS (directly, or to the proxy per X-Forwarded-Proto).
    """

    address: str
    via_proxy: bool
    secure: bool


def resolve_peer(
    tcp_peer: str | None,
    scheme: str,
    forwarded_for: str | None,
    forwarded_proto: str | None,
    proxies: Sequence[Network],
) -> Peer:
    """The client behind this request. `scheme` is the ASGI scope's (http/https/ws/wss)."""
    address = tcp_peer or "unknown"
    secure = scheme in ("https", "wss")
    if not in_networks(tcp_peer, proxies):
        return Peer(address, False, secure)
    if forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        # Right to left: each trusted proxy appended the address it saw; the first one that
        # is not a proxy is the client (anything left of it the client could have written).
        for hop in reversed(hops):
            if not in_networks(hop, proxies):
                address = hop if _is_ip(hop) else address
                break
        else:
            if hops and _is_ip(hops[0]):
                address = hops[0]
    if forwarded_proto:
        secure = forwarded_proto.split(",")[0].strip().lower() in ("https", "wss")
    return Peer(address, True, secure)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
