"""Stand-ins for identifiers in logs and shared keys: keyed, so they cannot be reversed.

A bare hash of a user id or an IP address is reversible by trying candidates (there are only
4 billion IPv4 addresses and users' ids are often guessable). A keyed HMAC is not, as long as
the key stays secret; the key is the server's session secret, so every worker and host that
shares sessions also agrees on pseudonyms (the same client is one key in Redis), and
rotating the secret unlinks old logs from new ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


class Pseudonyms:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"qac-pseudonym\0" + secret.encode()).digest()

    def of(self, kind: str, value: str) -> str:
        """`<kind>:<16 url-safe chars>`, stable for the same key, kind and value."""
        mac = hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()
        return f"{kind}:" + base64.urlsafe_b64encode(mac[:12]).decode()
