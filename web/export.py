"""`GET /search?format=csv`: every match of a search, streamed as CSV rows from one index generation."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from archive import Archive, Export, Hit, SearchRequest, document_path

from .errors import HttpError

EXPORT_CHUNK = 500
"""CSV rows read (and written) per step of an export: each step is a short turn in a search thread."""

CSV_COLUMNS = ("id", "document", "position", "title", "date", "source", "agency", "offence", "text", "url")
"""The columns of an export, one row per matching passage."""


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with =, +, - or @ is a formula to spreadsheet programs: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _rows(hits: list[Hit], base_url: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for h in hits:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    h.id,
                    h.document,
                    h.position,
                    h.title,
                    h.date,
                    h.source,
                    " ".join(h.agency),
                    " ".join(h.offence),
                    h.text,
                    base_url + document_path(h.document, h.position),
                )
            ]
        )
    return out.getvalue()


EXPORTS_AT_ONCE = 4
"""Exports streaming at once: each holds an index generation and its open files until it ends."""

EXPORT_SECONDS = 600
"""An export still streaming after this many seconds (a client that reads very slowly) is cut short."""


class _ExportResponse(StreamingResponse):
    """A streamed export that releases its index generation however the response ends."""

    def __init__(
        self, export: Export, slot: anyio.Semaphore, content: AsyncIterator[str], headers: dict[str, str]
    ) -> None:
        super().__init__(content, media_type="text/csv; charset=utf-8", headers=headers)
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


async def csv_export(request: Request, archive: Archive, search: SearchRequest) -> Response:
    """Stream every matching passage (not only the current page), up to the export limit.

    The search is ranked once, on one index generation, in a search thread; rows are then read from
    that generation EXPORT_CHUNK at a time, each step a turn in a search thread, so an export neither
    reruns the ranking nor holds a thread while its client reads slowly. Links are relative, or
    absolute from ARCHIVE_BASE_URL: never from the request's Host header.
    """
    limit: int = request.app.state.settings.export_limit
    searches = request.app.state.searches
    base_url: str = request.app.state.settings.base_url or ""
    exports = _export_slot(request)
    try:
        export = await anyio.to_thread.run_sync(archive.export, search, limit, limiter=searches)
    except BaseException:
        exports.release()
        raise
    truncated = export.total > limit
    started = time.monotonic()

    def chunk(start: int) -> str:
        return _rows(export.hits(start, start + EXPORT_CHUNK), base_url)

    async def body() -> AsyncIterator[str]:
        header = io.StringIO()
        csv.writer(header, lineterminator="\r\n").writerow(CSV_COLUMNS)
        yield header.getvalue()
        for start in range(0, export.rows, EXPORT_CHUNK):
            if time.monotonic() - started > EXPORT_SECONDS:  # a client reading for ever holds a generation
                yield f"# export interrompu après {EXPORT_SECONDS} s : relancez-le ou affinez la recherche\r\n"
                return
            yield await anyio.to_thread.run_sync(chunk, start, limiter=searches)
        if export.partial:
            yield f"# {export.notes[-1]}\r\n"
        if truncated:
            yield (
                f"# export limité aux {limit} premiers passages sur {export.total} : "
                f"affinez la recherche pour obtenir le reste\r\n"
            )

    headers = {
        "Content-Disposition": 'attachment; filename="recherche.csv"',
        "X-Total-Count": str(export.total),
        "X-Export-Limit": str(limit),
        "X-Export-Truncated": "true" if truncated else "false",
        "X-Export-Partial": "true" if export.partial else "false",
    }
    return _ExportResponse(export, exports, body(), headers)
