"""The widget's files at `/static/`, with a cache lifetime chosen by the file's name.

A name that carries a content hash (`autocomplete-0.2.0.3f9c0e1a2b.min.js`, written by
`scripts/build_widget.py` with `hashed_name`) names one content forever: a new build gets a
new name. Browsers and CDNs may keep such a file for a year without asking again
(`immutable`), so a site embedding the widget pays for it once. Every other name (the
unbundled modules, the demo's stylesheet) may change with the next deploy and is kept for
`SHORT_CACHE_S` only. Text files are gzipped for clients that accept it.
"""

from __future__ import annotations

import os
import re

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

#: Hex digits of the content hash in a built file's name.
HASH_CHARS = 10
IMMUTABLE = "public, max-age=31536000, immutable"
#: Seconds an unhashed file is kept before the browser asks again (with If-None-Match).
SHORT_CACHE_S = 300
SHORT = f"public, max-age={SHORT_CACHE_S}"
#: Smaller responses are sent as they are: compressing them saves nothing worth the CPU.
GZIP_MIN_BYTES = 1024

_HASHED = re.compile(rf"\.[0-9a-f]{{{HASH_CHARS}}}(\.[a-z0-9]+)+")


def hashed_name(stem: str, digest: str, suffix: str) -> str:
    """`<stem>.<first HASH_CHARS hex digits of digest><suffix>`; `suffix` starts with a dot
    (`.min.js`). The one spelling both the build step and `is_hashed` use."""
    if not re.fullmatch(r"[0-9a-f]+", digest) or len(digest) < HASH_CHARS:
        raise ValueError(f"digest must be >= {HASH_CHARS} lowercase hex digits, got {digest!r}")
    if not re.fullmatch(r"(\.[a-z0-9]+)+", suffix):
        raise ValueError(f"suffix must look like '.min.js', got {suffix!r}")
    return f"{stem}.{digest[:HASH_CHARS]}{suffix}"


def is_hashed(name: str) -> bool:
    """Does the file name carry a content hash (see `hashed_name`)?"""
    return bool(_HASHED.search(os.path.basename(name)))


def cache_control(path: str) -> str:
    """The Cache-Control value for a file served at `path`."""
    return IMMUTABLE if is_hashed(path) else SHORT


class CachedStaticFiles(StaticFiles):
    """StaticFiles whose answers (304s included) carry `cache_control` of the file's name."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if status_code == 200:  # a 404 page is not the file to keep
            response.headers["cache-control"] = cache_control(os.fspath(full_path))
        return response


def static_assets(directory: str) -> ASGIApp:
    """The files of `directory`, cached by name and gzipped when worth it."""
    return GZipMiddleware(CachedStaticFiles(directory=directory), minimum_size=GZIP_MIN_BYTES)
