"""CORS for the read endpoints only: pages of other origins (a notebook, a newsroom dashboard) may read
the archive from a browser; no browser page of another origin ever gets to write.

Starlette's CORSMiddleware answers, but only for reads (GET and HEAD of `/search`, `/documents/{id}`,
`/documents/{id}/original`, `/health`, `/openapi.json`, and their preflights). A write, or the preflight
of one, goes straight to the application: no `Access-Control-Allow-*` header, so the browser refuses it.
Credentials are never allowed (reads need none), which also makes `*` safe to offer.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

READ_PATHS = re.compile(r"/search|/health|/openapi\.json|/documents/.+")
"""Paths whose GET is a read. `/documents` itself (POST, upload) is not one of them."""

READ_METHODS = ("GET", "HEAD")

ALLOWED_HEADERS = ("If-None-Match", "If-Modified-Since")
"""Request headers a script may send beyond the safelisted ones: conditional requests. Never
`Authorization`: a page of another origin cannot present the token."""

EXPOSED_HEADERS = (
    "ETag",
    "X-Total-Count",
    "X-Export-Limit",
    "X-Export-Truncated",
    "X-Export-Partial",
    "Content-Disposition",
    "Link",
    "Retry-After",
)
"""Response headers a script may read besides the safelisted ones (`Last-Modified`, `Cache-Control`,
`Content-Type`...): validators, export counts, pagination links, how long to wait after a `429`."""

PREFLIGHT_MAX_AGE = 600
"""Seconds a browser may reuse a preflight's answer."""


def is_read(scope: Scope) -> bool:
    """Whether a request is a read (or the preflight of one) of a read path."""
    if not READ_PATHS.fullmatch(scope["path"]):
        return False
    method: str = scope["method"]
    if method == "OPTIONS":
        requested = Headers(scope=scope).get("access-control-request-method")
        return requested is None or requested.upper() in READ_METHODS
    return method in READ_METHODS


class ReadOnlyCORS:
    """CORS headers on reads for the configured origins (`*` for any); none at all on writes."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cors: ASGIApp | None = None
        if origins:
            self.cors = CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=READ_METHODS,
                allow_headers=ALLOWED_HEADERS,
                allow_credentials=False,
                expose_headers=EXPOSED_HEADERS,
                max_age=PREFLIGHT_MAX_AGE,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Reads through the CORS layer, everything else straight to the application."""
        if self.cors is not None and scope["type"] == "http" and is_read(scope):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
