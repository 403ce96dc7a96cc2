"""`GET /search?format=csv|ndjson`: every match of a search, streamed from one index generation.

How the rows look in each format is `export_formats`' business; here is how they are streamed: one
ranking, rows read a chunk at a time in a search thread, a bounded number of exports at once, each
bounded in time, and the index generation released however the response ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from archive import Archive, Export, SearchRequest

from .errors import HttpError, bad_parameter
from .export_formats import SEPARATORS, Context, CsvRows, NdjsonRows, Rows, file_name

EXPORT_CHUNK = 500
"""Rows read (and written) per step of an export: each step is a short turn in a search thread."""


EXPORTS_AT_ONCE = 4
"""Exports streaming at once: each holds an index generation and its open files until it ends."""

EXPORT_SECONDS = 600
"""An export still streaming after this many seconds (a client that reads very slowly) is cut short."""


class _ExportResponse(StreamingResponse):
    """A streamed export that releases its index generation however the response ends."""

    def __init__(
        self,
        export: Export,
        slot: anyio.Semaphore,
        content: AsyncIterator[str],
        media_type: str,
        headers: dict[str, str],
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.export = export
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.export.close()
            self.slot.release()


def _export_slot(request: Request) -> anyio.Semaphore:
    """One of the EXPORTS_AT_ONCE export slots, taken (the caller releases it); 503 when all are taken."""
    exports: anyio.Semaphore | None = getattr(request.app.state, "exports", None)
    if exports is None:  # one per application, made on the event loop's thread: no race
        exports = request.app.state.exports = anyio.Semaphore(EXPORTS_AT_ONCE)
    try:
        exports.acquire_nowait()
    except anyio.WouldBlock:
        raise HttpError(
            503,
            "busy",
            f"{EXPORTS_AT_ONCE} exports are running: try again in a moment",
            "Trop d'exports sont en cours ; réessayez dans un instant.",
            headers={"Retry-After": "10"},
        ) from None
    return exports


def _rows(request: Request, archive: Archive, search: SearchRequest, fmt: str) -> Rows:
    """The row writer of `fmt` for this request; 400 for a separator other than `,` or `;`."""
    now = datetime.now(UTC).replace(microsecond=0)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("format", "sep", "cursor")]
    context = Context(
        request.app.state.settings.base_url or "",
        archive.taxonomy.label,
        "&".join(f"{k}={v}" for k, v in kept),
        now.isoformat().replace("+00:00", "Z"),
    )
    if fmt == "ndjson":
        return NdjsonRows(context)
    separator = request.query_params.get("sep", ",")
    if separator not in SEPARATORS:
        raise bad_parameter("sep", "sep must be , or ; (French spreadsheets)")
    return CsvRows(context, separator)


async def export_response(request: Request, archive: Archive, search: SearchRequest, fmt: str) -> Response:
    """Stream every matching passage (not only the current page) as `fmt`, up to the export limit.

    The search is ranked once, on one index generation, in a search thread; rows are then read from
    that generation EXPORT_CHUNK at a time, each step a turn in a search thread, so an export neither
    reruns the ranking nor holds a thread while its client reads slowly. Links are relative, or
    absolute from ARCHIVE_BASE_URL: never from the request's Host header.
    """
    rows = _rows(request, archive, search, fmt)
    limit: int = request.app.state.settings.export_limit
    searches = request.app.state.searches
    exports = _export_slot(request)
    try:
        export = await anyio.to_thread.run_sync(archive.export, search, limit, limiter=searches)
    except BaseException:
        exports.release()
        raise
    truncated = export.total > limit
    started = time.monotonic()

    def chunk(start: int) -> str:
        return rows.rows(export.hits(start, start + EXPORT_CHUNK))

    async def body() -> AsyncIterator[str]:
        yield rows.header()
        for start in range(0, export.rows, EXPORT_CHUNK):
            if time.monotonic() - started > EXPORT_SECONDS:  # a client reading for ever holds a generation
                yield rows.note(
                    "timeout",
                    f"export interrompu après {EXPORT_SECONDS} s : relancez-le ou affinez la recherche",
                )
                return
            yield await anyio.to_thread.run_sync(chunk, start, limiter=searches)
        if export.partial:
            yield rows.note("partial", export.notes[-1])
        if truncated:
            yield rows.note(
                "truncated",
                f"export limité aux {limit} premiers passages sur {export.total} : "
                "affinez la recherche pour obtenir le reste",
            )

    name = file_name(search.query, datetime.now(UTC), rows.extension)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Total-Count": str(export.total),
        "X-Export-Limit": str(limit),
        "X-Export-Truncated": "true" if truncated else "false",
        "X-Export-Partial": "true" if export.partial else "false",
    }
    return _ExportResponse(export, exports, body(), rows.media_type, headers)
