"""gzip for the answers a client accepts compressed (JSON, HTML, CSV, NDJSON...), streaming kept.

Starlette's GZip responder does the work; this wrapper decides when it may: never for originals
(stored files, often already compressed PDFs, downloaded as they are, with ranges), and only when the
client's `Accept-Encoding` gives gzip a non-zero weight. A streamed answer (the CSV export) is
compressed chunk by chunk, each chunk flushed as it is written, so compression never holds it back.

Compression mixes secrets and attacker-chosen text in one body at the risk of BREACH: our answers hold
no secret (no token, no cookie, no CSRF value), only what anyone may read.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import negotiation

MINIMUM_SIZE = 500
"""Bodies smaller than this go uncompressed: an error or a `/health` answer gains nothing from gzip."""

LEVEL = 6
"""zlib's own default. A 23 KB JSON page of 10 hits: 4.9 KB in 0.35 ms at level 6, 4.9 KB in 0.41 ms at
level 9, 5.7 KB in 0.09 ms at level 1; a 150 KB CSV export: 36 KB in 7 ms (level 6), 10 ms (level 9)."""

THREAD_MINIMUM_SIZE = 32 * 1024
"""Chunks at least this large are compressed in a worker thread, not on the event loop: a page or a JSON
body under 32 KB takes well under a millisecond inline, a 500-row CSV step (about 100 KB) several."""

_ORIGINAL = re.compile(r"/documents/.+/original")


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether `Accept-Encoding` accepts gzip: named (or `*`) with a weight above zero.

    >>> accepts_gzip("gzip, deflate, br"), accepts_gzip("br;q=1, gzip;q=0"), accepts_gzip("*"), accepts_gzip("")
    (True, False, True, False)
    """
    weights = negotiation.weights(accept_encoding)
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


class Compression:
    """gzip when the client accepts it, except for originals; one `Vary` header, each item once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, its answer gzipped when the client accepts gzip (originals never)."""
        if scope["type"] != "http" or _ORIGINAL.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        responder: IdentityResponder
        if accepts_gzip(Headers(scope=scope).get("accept-encoding", "")):
            responder = GZipResponder(
                self.app, MINIMUM_SIZE, compresslevel=LEVEL, thread_minimum_size=THREAD_MINIMUM_SIZE
            )
        else:  # still says `Vary: Accept-Encoding` on what it would have compressed
            responder = IdentityResponder(self.app, MINIMUM_SIZE)

        async def send_merged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                vary = merged_vary(headers)
                if vary is not None:
                    headers["Vary"] = vary
            await send(message)

        await responder(scope, receive, send_merged)


def merged_vary(headers: Headers) -> str | None:
    """One `Vary` value for every `Vary` field and item, each once, in order; None when there is none.

    An endpoint says `Accept, Accept-Encoding`, and gzip adds `Accept-Encoding` again.
    """
    seen: dict[str, str] = {}
    for value in headers.getlist("vary"):
        for item in value.split(","):
            if item.strip():
                seen.setdefault(item.strip().lower(), item.strip())
    return ", ".join(seen.values()) or None
