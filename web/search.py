"""`GET /search`: one URL for people (HTML), programs (JSON) and spreadsheets (CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from archive.home import Archive, validate
from archive.models import FACETS, SORTS, FacetValue, Hit, SearchRequest, SearchResults

from .errors import bad_parameter
from .negotiation import response_format
from .rendering import render

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
    "per_page": "hits per page, 1 to 100 (default 10)",
    "format": "json, html or csv: overrides the Accept header",
}
"""Every query parameter `/search` reads, with its documentation (the OpenAPI document is built from it)."""

CSV_COLUMNS = ("id", "document", "position", "title", "date", "source", "agency", "offence", "text", "url")
SORT_LABELS = {"relevance": "Pertinence", "newest": "Plus récents d'abord", "oldest": "Plus anciens d'abord"}
FACET_TITLES = {
    "agency": "Service",
    "offence": "Infraction",
    "year": "Année",
    "type": "Type de document",
    "source": "Source",
}
VARY = {"Vary": "Accept"}
SIDEBAR_ORDER = ("agency", "offence", "year", "type", "source")


def _integer(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_parameter(name, f"{name} must be a whole number, not {raw[:40]!r}") from None


def parse(request: Request) -> SearchRequest:
    """The `SearchRequest` a query string asks for; 400 for malformed numbers (ranges are the core's job)."""
    params = request.query_params
    filters = {name: tuple(dict.fromkeys(v for v in params.getlist(name) if v)) for name in FACETS}
    sort = params.get("sort") or "relevance"
    if sort not in SORTS:
        raise bad_parameter("sort", f"sort must be one of {', '.join(SORTS)}")
    return SearchRequest(
        query=params.get("q", ""),
        filters={k: v for k, v in filters.items() if v},
        date_from=params.get("from") or None,
        date_to=params.get("to") or None,
        sort=sort,  # type: ignore[arg-type]
        page=_integer(request, "page", 1),
        per_page=_integer(request, "per_page", 10),
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
    facet: str
    value: str
    label: str
    href: str


class SearchPage:
    """What the search template needs beyond `SearchResults`: links and labels."""

    def __init__(self, request: SearchRequest, results: SearchResults) -> None:
        self.request = request
        self.results = results
        self.labels = {name: {f.value: f.label for f in values} for name, values in results.facets.items()}
        self.sort_labels = SORT_LABELS
        self.facet_titles = FACET_TITLES
        self.last_page = max(1, -(-results.total // request.per_page))
        self.first = (request.page - 1) * request.per_page + 1 if results.hits else 0
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

    def export_url(self, fmt: str) -> str:
        return "/search?" + query_string(self.request, page=None, format=fmt)

    def suggestion_url(self) -> str:
        return "/search?" + query_string(self.request, q=self.results.suggestion, page=None)

    def clear_url(self) -> str:
        return "/search?" + urlencode({"q": self.request.query})

    def chips(self) -> list[Chip]:
        out: list[Chip] = []
        for name in FACETS:
            for value in self.request.filters.get(name, ()):
                rest = tuple(v for v in self.request.filters[name] if v != value)
                filters = {**self.request.filters, name: rest}
                href = "/search?" + query_string(replace(self.request, filters=filters), page=None)
                out.append(Chip(name, value, self.label(name, value), href))
        dates: tuple[tuple[str, str | None, str], ...] = (
            ("from", self.request.date_from, "depuis le"),
            ("to", self.request.date_to, "jusqu'au"),
        )
        for name, day, text in dates:
            if day:
                out.append(
                    Chip(
                        name,
                        day,
                        f"{text} {day}",
                        "/search?" + query_string(self.request, page=None, **{name: None}),
                    )
                )
        return out

    def document_url(self, hit: Hit) -> str:
        base, _, anchor = hit.url.partition("#")
        query = f"?{urlencode({'q': self.request.query})}" if self.request.query.strip() else ""
        return f"{base}{query}#{anchor}" if anchor else f"{base}{query}"

    @property
    def show_interpretation(self) -> bool:
        typed = " ".join(self.request.query.split())
        return bool(typed) and self.results.interpreted_as.strip() != typed


async def search_endpoint(request: Request) -> Response:
    """Search passages. Answers HTML to browsers, JSON to other clients; `format=csv` exports."""
    fmt = response_format(request)
    search_request = parse(request)
    archive: Archive = request.app.state.archive
    if fmt == "csv":
        validate(search_request)
        base = str(request.base_url).rstrip("/")
        return await _csv(archive, search_request, request.app.state.export_limit, base)
    results = await anyio.to_thread.run_sync(
        archive.search, search_request, limiter=request.app.state.searches
    )
    if fmt == "json":
        return JSONResponse(results.to_json(), headers=VARY)
    response = render(
        request,
        "search.html",
        {"page": SearchPage(search_request, results), "results": results, "title": _title(search_request)},
    )
    response.headers.update(VARY)
    return response


def _title(request: SearchRequest) -> str:
    return f"« {request.query} » – Recherche" if request.query.strip() else "Recherche dans l'archive"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with =, +, - or @ is a formula to spreadsheet programs: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _rows(hits: tuple[Hit, ...], base_url: str) -> str:
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


async def _csv(archive: Archive, request: SearchRequest, limit: int, base_url: str) -> Response:
    """Stream every matching passage (not only the current page), up to `limit` rows."""
    per_page = 100
    first = await run_in_threadpool(archive.search, replace(request, page=1, per_page=per_page))
    rows = min(first.total, limit)
    truncated = first.total > limit

    async def body() -> AsyncIterator[str]:
        header = io.StringIO()
        csv.writer(header, lineterminator="\r\n").writerow(CSV_COLUMNS)
        yield header.getvalue()
        sent = 0
        page, results = 1, first
        while True:
            hits = results.hits[: rows - sent]
            yield _rows(hits, base_url)
            sent += len(hits)
            if sent >= rows or not results.hits:
                break
            page += 1
            results = await run_in_threadpool(archive.search, replace(request, page=page, per_page=per_page))
        if truncated:
            yield (
                f"# export limité aux {limit} premiers passages sur {first.total} : "
                f"affinez la recherche pour obtenir le reste\r\n"
            )

    headers = {
        "Content-Disposition": 'attachment; filename="recherche.csv"',
        "X-Total-Count": str(first.total),
        "X-Export-Limit": str(limit),
        "X-Export-Truncated": "true" if truncated else "false",
    }
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)
