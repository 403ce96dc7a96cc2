"""HTTP caching: validators tied to the live index commit, `304 Not Modified`, and how long answers keep.

A search, a document page and an export depend on the request and on the index only, so their `ETag`
is a hash of the live commit (`Archive.version()`: a directory listing, no search) and of the
normalised request. It is computed before any search runs: a conditional request whose tag still
matches costs a listing and a hash, not a search. Every other answer says it may not be stored.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from functools import cache

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive import Archive

MAX_AGE = 60
"""Seconds a search, a document page or an original may be reused without asking. Short: a reindex may
change any of them, and asking again costs a `304` (no search) once that time has passed."""

CACHEABLE = f"public, max-age={MAX_AGE}, must-revalidate"
"""Reads that depend on the index and the request only: the same for every client (no token, no cookie)."""

NO_CACHE = "no-cache"
"""Stored, but asked again every time: `/health`, whose answer changes with no commit (a failed write)."""

NO_STORE = "no-store"
"""Everything else: writes, jobs, errors, `429`s, and whatever does not say otherwise."""

VARY = "Accept, Accept-Encoding"
"""What a cacheable answer depends on besides its URL: the negotiated format and the compression."""


@dataclass(frozen=True)
class Validators:
    """The `ETag` and `Last-Modified` of a cacheable answer, sent with the answer and with its `304`."""

    etag: str
    modified: int  # whole seconds since the epoch, what Last-Modified can say

    @property
    def headers(self) -> dict[str, str]:
        """The validators as response headers, with the caching policy of reads."""
        return {
            "ETag": self.etag,
            "Last-Modified": formatdate(self.modified, usegmt=True),
            "Cache-Control": CACHEABLE,
            "Vary": VARY,
        }


@cache
def _code_version() -> str:
    """The installed version of the service: a new release may render the same index differently."""
    try:
        return importlib.metadata.version("archive")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "source"


def _tag(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).digest()
    # Weak: a body holds `took_ms`, so two answers under one tag are equivalent, not byte-identical;
    # weak tags also stay true once gzip has re-encoded the body.
    return 'W/"' + base64.urlsafe_b64encode(digest[:18]).decode() + '"'


async def validators(request: Request, fmt: str) -> Validators | None:
    """The validators of a read of the index as `fmt`; None when there is no index to tie them to.

    The tag hashes the live commit (generation and Whoosh commit number, so an incremental reindex
    changes it as a full one does), the path, the query parameters (grouped by name, each name's values
    in their order: that order shows in the answer), the negotiated format, and what else shapes a
    body: the service's version, `ARCHIVE_BASE_URL` (export links) and the export limit; for a page,
    the day too (its citations say « consulté le <day> »).
    """
    archive: Archive = request.app.state.archive
    version = await anyio.to_thread.run_sync(archive.version)  # a listing: no search thread needed
    if version is None:
        return None
    params = sorted(request.query_params.multi_items(), key=lambda item: item[0])
    state = request.app.state
    etag = _tag(
        version.tag,
        request.url.path,
        params,
        fmt,
        _code_version(),
        state.settings.base_url,
        state.settings.export_limit,
        dt.date.today().isoformat() if fmt == "html" else None,
    )
    return Validators(etag, int(version.committed))


def file_validators(stat: os.stat_result) -> tuple[str, int, dict[str, str]]:
    """The strong `ETag`, modification second and caching headers of a stored original.

    The store never rewrites a file in place (a new file gets a new inode), and an original is sent as
    it is, never re-encoded: its inode, modification time and size name its bytes.
    """
    digest = hashlib.sha256(f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}".encode()).digest()
    etag = '"' + base64.urlsafe_b64encode(digest[:18]).decode() + '"'
    modified = int(stat.st_mtime)
    headers = {"ETag": etag, "Last-Modified": formatdate(modified, usegmt=True), "Cache-Control": CACHEABLE}
    return etag, modified, headers


def not_modified(request: Request, etag: str, modified: int | None) -> bool:
    """Whether a GET or HEAD may be answered `304`, by RFC 9110 §13.2.2.

    `If-None-Match` (weak comparison) decides when present; otherwise `If-Modified-Since`, to the
    second. A commit within the same second as the previous one is told apart by the tag only:
    clients should send `If-None-Match`. `*` is not taken to match: whether a document exists is
    known only once it is read, and a full answer is never wrong.
    """
    if request.method not in ("GET", "HEAD"):
        return False
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {_opaque(t) for t in if_none_match.split(",")}
        return _opaque(etag) in tags
    since = request.headers.get("if-modified-since")
    if since is None or modified is None:
        return False
    try:
        date = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False  # an invalid date is ignored (RFC 9110 §13.1.3)
    return date.tzinfo is not None and modified <= date.timestamp()


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified_response(headers: dict[str, str]) -> Response:
    """A `304`: no body, the validators and caching headers the full answer would carry."""
    return Response(status_code=304, headers=headers)


async def conditional(request: Request, fmt: str) -> tuple[Validators | None, Response | None]:
    """The validators of a cacheable read, and the `304` to answer instead of running it, if any."""
    found = await validators(request, fmt)
    if found is not None and not_modified(request, found.etag, found.modified):
        return found, not_modified_response(found.headers)
    return found, None


def headers_for(found: Validators | None) -> dict[str, str]:
    """The caching headers of a full answer: the validators' when known, otherwise not to be stored."""
    if found is None:
        return {"Cache-Control": NO_STORE, "Vary": VARY}
    return found.headers


def cache_policy(headers: MutableHeaders) -> None:
    """`Cache-Control: no-store` for every answer that sets no caching policy of its own.

    Writes, jobs, errors and refusals (`401`, `409`, `429`...) change with time or depend on a token:
    no cache may keep them. Static files keep their own validators (and a cache's judgement).
    """
    if not any(name in headers for name in ("cache-control", "etag", "last-modified")):
        headers["Cache-Control"] = NO_STORE


class ResponseHeaders:
    """Middleware that lets `edit` change the headers of every HTTP response before they are sent."""

    def __init__(self, app: ASGIApp, edit: Callable[[MutableHeaders], None]) -> None:
        self.app = app
        self.edit = edit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, editing the headers of its answer as it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_edited(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])  # optional in ASGI
                self.edit(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_edited)
