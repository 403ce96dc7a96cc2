"""The Starlette application: `create_app(settings)` wires routes, middleware and error answers.

One `Archive` per application, opened in the lifespan and shared by every request; the core is
synchronous, so every call into it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive import Archive, ArchiveError, Settings

from . import archivist, documents, errors, openapi, search
from .caching import NO_CACHE, ResponseHeaders, cache_policy
from .compression import Compression
from .cors import ReadOnlyCORS
from .fairuse import FairUse, limited
from .jobs import Jobs
from .negotiation import prefers_html
from .rendering import RENDER_THREADS, make_templates, render

log = logging.getLogger("web")
access_log = logging.getLogger("web.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def security_headers(headers: MutableHeaders) -> None:
    """The security headers every response carries (a route may set a stricter CSP of its own)."""
    if "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = CSP
    for name, value in SECURITY_HEADERS:
        if name.decode() not in headers:
            headers[name.decode()] = value.decode()


def _loggable(text: str) -> str:
    r"""`text` fit for one log line: backslash, quote and every non-printable character escaped.

    A request path is percent-decoded, so `/a%0Ab` would otherwise forge a second line.

    >>> _loggable('/a\nb"c\\d\x1b[2Jé')
    '/a\\x0ab\\"c\\\\d\\x1b[2Jé'
    """
    return "".join(c if c.isprintable() and c not in '\\"' else _escaped(c) for c in text)


def _escaped(c: str) -> str:
    if c in '\\"':
        return "\\" + c
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


LOGGED_PATH = 1000
"""Characters of a request's path and query string written to the access log."""


class AccessLog:
    """One log line per request: client, method, path, status and time, escaped so a line stays one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and log it once answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope["path"] + (f"?{query}" if query else "")
            if len(path) > LOGGED_PATH:  # a 16 KB flood of facet values is not worth 16 KB per line
                path = f"{path[:LOGGED_PATH]}…(+{len(path) - LOGGED_PATH} characters)"
            access_log.info(
                '%s "%s %s" %d %.1fms',
                _loggable(str((scope.get("client") or ("-",))[0])),
                _loggable(scope["method"]),
                _loggable(path),
                status,
                (time.perf_counter() - started) * 1000,
            )


async def _error_response(request: Request, error: errors.HttpError) -> Response:
    """The error as a French page to a browser, as JSON to any other client. An export's link
    (`format=csv`, `ndjson`) clicked in a browser is answered as the browser asks, like every other
    error: a spreadsheet or a script does not send an Accept header preferring HTML. Only `format=json`,
    asked explicitly, wins over Accept."""
    wants_html = (
        request.method == "GET" and prefers_html(request) and request.query_params.get("format") != "json"
    )
    if wants_html:
        return await render(
            request, "error.html", {"error": error, "title": "Erreur"}, error.status, error.headers
        )
    return JSONResponse(error.to_json(), status_code=error.status, headers=error.headers)


async def _on_error(request: Request, exc: Exception) -> Response:
    """The answer to an error raised by an endpoint: ours, the core's (through the table) or Starlette's."""
    if isinstance(exc, errors.HttpError):
        error = exc
    elif isinstance(exc, ArchiveError):
        error = errors.from_archive(exc, request.app.state.settings)
        if error.status >= 500:
            log.error(
                "archive error on %s %s", _loggable(request.method), _loggable(request.url.path), exc_info=exc
            )
    elif isinstance(exc, HTTPException):
        error = errors.from_http_exception(exc, request.method)
    else:  # registered for the three classes above only; answered like any unexpected error
        log.error("unexpected %s on %s", type(exc).__name__, _loggable(request.url.path), exc_info=exc)
        error = errors.INTERNAL
    return await _error_response(request, error)


class CatchAll:
    """Turns any unexpected exception into a logged 500 in the usual error shape, with no stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer 500 if it fails before its answer has begun."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def track(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, track)
        except Exception:
            log.exception("unhandled error on %s %s", _loggable(scope["method"]), _loggable(scope["path"]))
            if started:
                raise
            request = Request(scope)
            response = await _error_response(request, errors.INTERNAL)
            await response(scope, receive, send)


async def home(request: Request) -> Response:
    """The search page is the home page."""
    return RedirectResponse("/search", status_code=307)


async def health(request: Request) -> Response:
    """Service and index status."""
    archive: Archive = request.app.state.archive
    stats = await run_in_threadpool(archive.stats)
    failed = await run_in_threadpool(archive.health)
    # stored by no cache without asking: a failed write changes it without any new commit
    return JSONResponse(stats.health(failed), headers={"Cache-Control": NO_CACHE})


async def openapi_json(request: Request) -> Response:
    """The OpenAPI document of the HTTP API."""
    return JSONResponse(openapi.spec())


def _configure_logging() -> None:
    # uvicorn configures only its own loggers: give ours a handler unless the host already did.
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        # the process id tells apart the lines of `archive serve --workers N`'s processes, which share the log
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        )
        log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    """One `Archive` for the application's life, with its reindex jobs and its thread limits."""
    settings: Settings = app.state.settings
    archive = await run_in_threadpool(Archive, settings)
    app.state.archive = archive
    app.state.jobs = Jobs(archive)
    app.state.searches = anyio.CapacityLimiter(settings.search_threads)
    app.state.renders = anyio.CapacityLimiter(RENDER_THREADS)
    try:
        yield
    finally:
        await run_in_threadpool(app.state.jobs.join)
        archive.close()


def _routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        # reads (searches, exports, document pages, originals) count against their client's limit
        Route("/search", limited(search.search_endpoint), methods=["GET"]),
        Route("/documents", archivist.upload_endpoint, methods=["POST"]),
        Route("/documents/{doc_id:path}/original", limited(documents.original_endpoint), methods=["GET"]),
        Route("/documents/{doc_id:path}", limited(documents.document_endpoint), methods=["GET"]),
        Route("/documents/{doc_id:path}", archivist.delete_endpoint, methods=["DELETE"]),
        Route("/reindex", archivist.reindex_endpoint, methods=["POST"]),
        Route("/jobs/{job_id}", archivist.job_endpoint, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"),
    ]


def _middleware(settings: Settings) -> list[Middleware]:
    # Outermost first. The access log sees every answer's final status; security headers go on
    # everything, CORS preflights included; CORS wraps what may fail so that scripts of an allowed
    # origin can read errors, 429s and 500s; every answer without a caching policy gets `no-store`;
    # gzip compresses error pages too, and sees bodies as the endpoints stream them.
    return [
        Middleware(AccessLog),
        Middleware(ResponseHeaders, edit=security_headers),
        Middleware(ReadOnlyCORS, origins=settings.cors_origins),
        Middleware(ResponseHeaders, edit=cache_policy),
        Middleware(Compression),
        Middleware(CatchAll),
    ]


def create_app(settings: Settings) -> Starlette:
    """The web application over the archive at `settings.home`, configured by `settings` alone."""
    _configure_logging()
    app = Starlette(
        routes=_routes(),
        middleware=_middleware(settings),
        exception_handlers={errors.HttpError: _on_error, ArchiveError: _on_error, HTTPException: _on_error},
        lifespan=_lifespan,
    )
    # Starlette answers `/search/` with a redirect to an absolute URL built from the Host header:
    # an attacker's host in our Location. Addresses are exact here, and every redirect is relative.
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.templates = make_templates()
    app.state.fair_use = FairUse(settings.rate_limit, settings.trusted_proxies)
    return app


def from_environment() -> Starlette:
    """The application of one process of `archive serve --workers N` (uvicorn's factory): the settings
    from the environment, which `archive serve` completes with its own (`--home`) before starting them."""
    _die_with_supervisor()
    return create_app(Settings.from_env())


def _die_with_supervisor() -> None:
    """Stop (SIGTERM: a clean shutdown) when the supervisor dies, even by SIGKILL: a worker left behind
    would keep the port, and the next `archive serve` could not start. Linux's `PR_SET_PDEATHSIG` fires
    when the thread that started us exits: uvicorn starts and replaces workers from its main thread."""
    parent = multiprocessing.parent_process()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    if parent is not None and os.getppid() != parent.pid:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)
