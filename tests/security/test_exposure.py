"""Finding 6, the smaller ones: what the server reveals, and the cookie it sets behind TLS.

`/healthz` is public: it says whether the service works, not its pid or the text of a broken
blocklist rule; those need the health token. `/metrics` can be limited to internal addresses.
Behind a TLS-terminating trusted proxy the session cookie is `__Host-`-prefixed and Secure, and
the same-origin rule compares schemes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from tests.credentials import TEST_HEALTH_TOKEN
from tests.live_server import LiveServer
from tests.server.client import ws_session

pytestmark = [pytest.mark.anyio]


def test_healthz_without_the_token_shows_no_internals(
    built_sample_index: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("sex\n")
    with LiveServer(built_sample_index, env={"QAC_BLOCKLIST": str(rules)}) as live:
        rules.write_text("re:(unclosed /etc/secret-path\n")  # a rule that no longer parses
        public = live.healthz(details=False)
        assert "details" not in public and "pid" not in json.dumps(public)
        assert "secret-path" not in json.dumps(public)
        status, body = live.get("/healthz", headers={"Authorization": "Bearer wrong"})
        assert status == 200 and "details" not in json.loads(body)
        inside = live.healthz(details=True)
        assert inside["details"]["pid"] > 0
        assert TEST_HEALTH_TOKEN not in json.dumps(inside)


def test_metrics_can_be_limited_to_internal_addresses(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, env={"QAC_METRICS_ALLOW": "10.0.0.0/8"}) as live:
        status, _ = live.get("/metrics")
        assert status == 403, "127.0.0.1 is not in 10.0.0.0/8"
    with LiveServer(built_sample_index, env={"QAC_METRICS_ALLOW": "127.0.0.1"}) as live:
        status, body = live.get("/metrics")
        assert status == 200 and "qac_requests_total" in body


async def test_behind_tls_the_session_cookie_is_host_prefixed_and_secure(
    built_sample_index: Path,
) -> None:
    env = {"QAC_TRUSTED_PROXIES": "127.0.0.1"}
    with LiveServer(built_sample_index, env=env) as live:
        tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
        async with ws_session(live.ws_url, additional_headers=tls) as (ws, hello):
            cookie = ws.response.headers["set-cookie"]
            assert cookie.startswith(f"__Host-qac_session={hello['session']};")
            assert "; Secure" in cookie
        async with ws_session(live.ws_url) as (ws, _):
            assert "Secure" not in ws.response.headers["set-cookie"], "plain http: no Secure"


async def test_the_same_origin_rule_compares_schemes(built_sample_index: Path) -> None:
    env = {"QAC_TRUSTED_PROXIES": "127.0.0.1"}
    with LiveServer(built_sample_index, env=env) as live:
        host = f"127.0.0.1:{live.port}"
        tls = {"X-Forwarded-Proto": "https"}
        async with ws_session(live.ws_url, origin=f"https://{host}", additional_headers=tls):
            pass
        with pytest.raises(InvalidStatus) as refused:
            async with ws_session(live.ws_url, origin=f"http://{host}", additional_headers=tls):
                pass
        assert refused.value.response.status_code == 403, "an http page on a TLS host"
