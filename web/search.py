"""`GET /search`: one URL for people (HTML), programs (JSON) and spreadsheets (CSV)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from archive.home import Archive, validate
from archive.models import FACETS, SORTS, FacetValue, Hit, SearchRequest, SearchResults, document_url
from archive.searcher import Export, check_filters

from . import caching
from .errors import HttpError, bad_parameter
from .negotiation import response_format
from .rendering import json_response, render

PARAMETERS: dict[str, str] = {
    "q": 'query text: words, "phrases", OR, NOT, prefix*, field:value (empty browses everything)',
    "agency": "agency facet value (repeatable, OR'ed)",
    "offence": "offence facet value (repeatable, OR'ed)",
    "year": "year facet value (repeatable, OR'ed)",
    "source": "source facet value (repeatable, OR'ed)",
    "type": "document type slug (repeatable, OR'ed)",
    "from": "only documents dated on or after this ISO day",
    "to": "only documents dated on or before this ISO day",
    "sort": "relevance (default), newest or oldest",
    "page": "page of hits, from 1 (default 1)",
    "cursor": "the next_cursor of a previous page of this search: the page that follows it, on the same "
    "state of the index (410 cursor_expired once a reindex changed it); not with page",
    "per_page": "hits per page, 1 to 100 (default 10)",
    "format": "json, html or csv: overrides the Accept header",
    "remove": "a filter to drop from this search (repeatable): facet:value (e.g. year:2024), from or to; "
    "what the page's filter chips send",
}
"""Every query parameter `/search` reads, with its documentation (the OpenAPI document is built from it)."""

MAX_QUERY_BYTES = 32 * 1024
"""Longest query string accepted (414 beyond): twice what uvicorn's HTTP parser takes for a whole request
head, room for a 1,000-character query in any script and every facet's selected values."""

MAX_PARAMETERS = 200
"""Query parameters accepted in one request (400 beyond): five facets of MAX_SELECTED values each, plus
the others, with room to spare."""

EXPORT_CHUNK = 500
"""CSV rows read (and written) per step of an export: each step is a short turn in a search thread."""

CSV_COLUMNS = ("id", "document", "position", "title", "date", "source", "agency", "offence", "text", "url")
SORT_LABELS = {"relevance": "Pertinence", "newest": "Plus récents d'abord", "oldest": "Plus anciens d'abord"}
FACET_TITLES = {
    "agency": "Service",
    "offence": "Infraction",
    "year": "Année",
    "type": "Type de document",
    "source": "Source",
}
SIDEBAR_ORDER = ("agency", "offence", "year", "type", "source")


def integer_parameter(request: Request, name: str, default: int) -> int:
    """A whole-number query parameter, `default` when absent; 400 when it is not a number."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_parameter(name, f"{name} must be a whole number, not {raw[:40]!r}") from None


def bounded_parameters(request: Request, count: bool = True) -> QueryParams:
    """The request's query parameters, once their size is known to be reasonable (414 or 400 otherwise).

    Checked before anything renders them: a query string's cost grows with its length. `count=False`
    leaves the number of parameters to the caller (`parse` names an overfull facet first).
    """
    raw = request.scope.get("query_string", b"")
    if len(raw) > MAX_QUERY_BYTES:
        raise HttpError(
            414,
            "uri_too_long",
            f"the query string is {len(raw)} bytes long; at most {MAX_QUERY_BYTES} are accepted",
            "L'adresse demandée est trop longue : raccourcissez la recherche ou retirez des filtres.",
        )
    params = request.query_params
    if count and len(params.multi_items()) > MAX_PARAMETERS:
        raise HttpError(
            400,
            "too_many_parameters",
            f"{len(params.multi_items())} query parameters; at most {MAX_PARAMETERS} are accepted",
            "La demande contient trop de paramètres : retirez des filtres.",
        )
    return params


def parse(request: Request) -> SearchRequest:
    """The `SearchRequest` a query string asks for; 400 for malformed numbers (ranges are the core's job).

    `remove=facet:value` (or `remove=from`, `remove=to`) drops a filter: the page's chips send it with
    the search form, so that each chip is one short button rather than a copy of every other filter.
    """
    params = bounded_parameters(request, count=False)
    removed = set(params.getlist("remove"))
    filters = {
        name: tuple(dict.fromkeys(v for v in params.getlist(name) if v and f"{name}:{v}" not in removed))
        for name in FACETS
    }
    filters = {k: v for k, v in filters.items() if v}
    check_filters(filters)  # the clearer error first: which facet has too many values
    bounded_parameters(request)
    sort = params.get("sort") or "relevance"
    if sort not in SORTS:
        raise bad_parameter("sort", f"sort must be one of {', '.join(SORTS)}")
    cursor = params.get("cursor") or None
    if cursor is not None and "page" in params:
        raise bad_parameter("cursor", "cursor cannot be combined with page: the cursor says where the page starts")
    return SearchRequest(
        query=params.get("q", ""),
        filters=filters,
        date_from=None if "from" in removed else params.get("from") or None,
        date_to=None if "to" in removed else params.get("to") or None,
        sort=sort,  # type: ignore[arg-type]
        page=integer_parameter(request, "page", 1),
        per_page=integer_parameter(request, "per_page", 10),
        cursor=cursor,
    )


def query_string(request: SearchRequest, **changes: object) -> str:
    """The query string of a search, with `changes` applied (None drops a parameter)."""
    pairs: list[tuple[str, str]] = []
    values: dict[str, object] = {"q": request.query}
    for name in FACETS:
        pairs.extend((name, v) for v in request.filters.get(name, ()))
    values.update(
        {
            "from": request.date_from,
            "to": request.date_to,
            "sort": None if request.sort == "relevance" else request.sort,
            "page": None if request.page == 1 else request.page,
            "per_page": None if request.per_page == 10 else request.per_page,
        }
    )
    values.update(changes)
    head = [(k, str(v)) for k, v in values.items() if k == "q" and v is not None]
    tail = [(k, str(v)) for k, v in values.items() if k != "q" and v is not None]
    return urlencode(head + pairs + tail)


@dataclass(frozen=True)
class Chip:
    """An active filter, shown with a button that submits the search form without it."""

    facet: str
    value: str
    label: str
    remove: str  # the `remove` parameter that drops it


class SearchPage:
    """What the search template needs beyond `SearchResults`: links and labels."""

    def __init__(self, request: SearchRequest, results: SearchResults) -> None:
        self.request = request
        self.results = results
        self.labels = {name: {f.value: f.label for f in values} for name, values in results.facets.items()}
        self.sort_labels = SORT_LABELS
        self.facet_titles = FACET_TITLES
        self.last_page = max(1, -(-results.total // request.per_page))
        self.first = (results.page - 1) * request.per_page + 1 if results.hits else 0
        self.last = self.first + len(results.hits) - 1 if results.hits else 0

    @property
    def filtered(self) -> bool:
        return bool(self.request.filters or self.request.date_from or self.request.date_to)

    @property
    def sidebar(self) -> list[tuple[str, tuple[FacetValue, ...]]]:
        return [(name, self.results.facets.get(name, ())) for name in SIDEBAR_ORDER]

    def label(self, facet: str, value: str | None) -> str:
        if value is None:
            return ""
        return self.labels.get(facet, {}).get(value, value)

    def page_url(self, page: int) -> str:
        return "/search?" + query_string(self.request, page=None if page == 1 else page)

    def next_url(self) -> str | None:
        """The next page: by cursor when this one was reached by a cursor (it holds still), else by number."""
        if self.request.cursor is not None:
            return next_url(self.request, self.results)
        return self.page_url(self.request.page + 1) if self.request.page < self.last_page else None

    def export_url(self, fmt: str) -> str:
        return "/search?" + query_string(self.request, page=None, format=fmt)

    def suggestion_url(self) -> str:
        return "/search?" + query_string(self.request, q=self.results.suggestion, page=None)

    def clear_url(self) -> str:
        return "/search?" + urlencode({"q": self.request.query})

    def chips(self) -> list[Chip]:
        """The active filters. Each is a few bytes: a link per chip repeating every other filter made
        the page grow with the square of their number."""
        out = [
            Chip(name, value, self.label(name, value), f"{name}:{value}")
            for name in FACETS
            for value in self.request.filters.get(name, ())
        ]
        dates: tuple[tuple[str, str | None, str], ...] = (
            ("from", self.request.date_from, "depuis le"),
            ("to", self.request.date_to, "jusqu'au"),
        )
        out.extend(Chip(name, day, f"{text} {day}", name) for name, day, text in dates if day)
        return out

    def document_url(self, hit: Hit) -> str:
        return document_url(hit.document, hit.position, self.request.query)

    @property
    def show_interpretation(self) -> bool:
        typed = " ".join(self.request.query.split())
        return bool(typed) and self.results.interpreted_as.strip() != typed


async def search_endpoint(request: Request) -> Response:
    """Search passages. Answers HTML to browsers, JSON to other clients; `format=csv` exports."""
    search_request = parse(request)
    fmt = response_format(request)
    archive: Archive = request.app.state.archive
    validate(search_request)  # a bad parameter is a 400, even to a conditional request
    found, unchanged = await caching.conditional(request, fmt)  # before any search: a 304 costs none
    if unchanged is not None:
        return unchanged
    cache = caching.headers_for(found)
    if fmt == "csv":
        export = await _csv(request, archive, search_request)
        export.headers.update(cache)
        return export
    results = await anyio.to_thread.run_sync(
        archive.search, search_request, limiter=request.app.state.searches
    )
    if fmt == "json":
        following = next_url(search_request, results, request.query_params.get("format"))
        link = {"Link": f'<{following}>; rel="next"'} if following else {}
        return await json_response(request, results.to_json, headers={**cache, **link})
    return await render(
        request,
        "search.html",
        {"page": SearchPage(search_request, results), "results": results, "title": _title(search_request)},
        headers=cache,
    )


def next_url(request: SearchRequest, results: SearchResults, fmt: str | None = None) -> str | None:
    """The relative address of the page after `results`, by its cursor; None on the last page."""
    if results.next_cursor is None:
        return None
    return "/search?" + query_string(request, page=None, cursor=results.next_cursor, format=fmt)


def _title(request: SearchRequest) -> str:
    return f"« {request.query} » – Recherche" if request.query.strip() else "Recherche dans l'archive"


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
                    base_url + h.url,
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


async def _csv(request: Request, archive: Archive, search: SearchRequest) -> Response:
    """Stream every matching passage (not only the current page), up to the export limit.

    The search is ranked once, on one index generation, in a search thread; rows are then read from
    that generation EXPORT_CHUNK at a time, each step a turn in a search thread, so an export neither
    reruns the ranking nor holds a thread while its client reads slowly. Links are relative, or
    absolute from ARCHIVE_BASE_URL: never from the request's Host header.
    """
    limit: int = request.app.state.export_limit
    searches = request.app.state.searches
    base_url: str = request.app.state.settings.base_url or ""
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
