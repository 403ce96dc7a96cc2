"""`GET /search`: one URL for people (HTML), programs (JSON) and spreadsheets (CSV, see export.py)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from archive import FACETS, SORTS, Archive, FacetValue, Hit, SearchRequest, SearchResults, document_path

from . import caching, histogram
from .citation import Citation, of_hit
from .errors import HttpError, bad_parameter
from .export import export_response
from .feed import atom_response
from .negotiation import response_format
from .rendering import json_response, render

_FACET_VALUES = {"type": "document type slug"}  # what a facet's values are, when not "<facet> facet value"

PARAMETERS: dict[str, str] = {
    "q": 'query text: words, "phrases", OR, NOT, prefix*, field:value (empty browses everything)',
    **{name: f"{_FACET_VALUES.get(name, name + ' facet value')} (repeatable, OR'ed)" for name in FACETS},
    "from": "only documents dated on or after this ISO day",
    "to": "only documents dated on or before this ISO day",
    "sort": "relevance (default), newest or oldest",
    "page": "page of hits, from 1 (default 1)",
    "cursor": "the next_cursor of a previous page of this search: the page that follows it, on the same "
    "state of the index (410 cursor_expired once a reindex changed it); not with page",
    "per_page": "hits per page, 1 to 100 (default 10)",
    "format": "json, html, csv, ndjson (every match, one JSON hit a line) or atom (the 50 newest matching "
    "passages as an Atom feed, by document date then indexing time): overrides the Accept header",
    "sep": "the CSV separator: , (default) or ; (French spreadsheets)",
    "remove": "a filter to drop from this search (repeatable): facet:value (e.g. year:2024), from or to; "
    "what the page's filter chips send",
    "correct": "true (default): a query matching no passage is searched as its spelling suggestion when that "
    "finds passages (the body says `corrected`); false searches exactly what was typed",
    "group": "document: a list of documents (per_page of them a page), each with its best passages "
    "(at most 2, its passages together), ranked by its best; paged by number (no cursor)",
    "crowding": "true (default): at most 2 passages of one document are listed, each hit saying how many "
    "more of its document match (`more_in_document`); false lists the plain passage ranking",
}
"""Every query parameter `/search` reads, with its documentation (the OpenAPI document is built from it)."""

MAX_QUERY_BYTES = 32 * 1024
"""Longest query string accepted (414 beyond): twice what uvicorn's HTTP parser takes for a whole request
head, room for a 1,000-character query in any script and every facet's selected values."""

MAX_PARAMETERS = 200
"""Query parameters accepted in one request (400 beyond): five facets of MAX_SELECTED values each, plus
the others, with room to spare."""

SORT_LABELS = {"relevance": "Pertinence", "newest": "Plus récents d'abord", "oldest": "Plus anciens d'abord"}
FACET_TITLES = {
    "agency": "Service",
    "offence": "Infraction",
    "year": "Année",
    "type": "Type de document",
    "source": "Source",
}
"""Each facet of FACETS as the sidebar titles it, in the order the sidebar shows them."""

SIDEBAR_ORDER = tuple(FACET_TITLES)


def integer_parameter(request: Request, name: str, default: int) -> int:
    """A whole-number query parameter, `default` when absent; 400 when it is not a number."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_parameter(name, f"{name} must be a whole number, not {raw[:40]!r}") from None


_BOOLEANS = {
    **dict.fromkeys(("true", "1", "on", "yes"), True),
    **dict.fromkeys(("false", "0", "off", "no"), False),
}


def boolean_parameter(request: Request, name: str, default: bool) -> bool:
    """A true/false query parameter (also 1/0, on/off, yes/no), `default` when absent; 400 otherwise."""
    raw = request.query_params.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in _BOOLEANS:
        raise bad_parameter(name, f"{name} must be true or false, not {raw[:40]!r}")
    return _BOOLEANS[raw]


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
    SearchRequest.check_filters(filters)  # the clearer error first: which facet has too many values
    bounded_parameters(request)
    sort = params.get("sort") or "relevance"
    if sort not in SORTS:
        raise bad_parameter("sort", f"sort must be one of {', '.join(SORTS)}")
    cursor = params.get("cursor") or None
    if cursor is not None and "page" in params:
        raise bad_parameter(
            "cursor", "cursor cannot be combined with page: the cursor says where the page starts"
        )
    return SearchRequest(
        query=params.get("q", ""),
        filters=filters,
        date_from=None if "from" in removed else params.get("from") or None,
        date_to=None if "to" in removed else params.get("to") or None,
        sort=sort,  # type: ignore[arg-type]
        page=integer_parameter(request, "page", 1),
        per_page=integer_parameter(request, "per_page", 10),
        cursor=cursor,
        correct=boolean_parameter(request, "correct", True),
        crowding=boolean_parameter(request, "crowding", True),
        group=_group(params.get("group")),
    )


def _group(value: str | None) -> bool:
    """`group=document`: a list of documents; nothing else is accepted (400)."""
    if value in (None, ""):
        return False
    if value != "document":
        raise bad_parameter("group", "group must be document (a list of documents with their best passages)")
    return True


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
            "correct": None if request.correct else "false",
            "crowding": None if request.crowding else "false",
            "group": "document" if request.group else None,
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

    def __init__(self, request: SearchRequest, results: SearchResults, base_url: str = "") -> None:
        self.request = request
        self.results = results
        self.base_url = base_url
        self.labels = {name: {f.value: f.label for f in values} for name, values in results.facets.items()}
        self.sort_labels = SORT_LABELS
        self.facet_titles = FACET_TITLES
        self.last_page = results.pages
        self.grouped = request.group
        shown = len({h.document for h in results.hits}) if request.group else len(results.hits)
        self.first = (results.page - 1) * request.per_page + 1 if results.hits else 0
        self.last = self.first + shown - 1 if results.hits else 0

    def continues(self, index: int) -> bool:
        """Whether hit `index` of the page follows a hit of its own document (then it is shown under it)."""
        hits = self.results.hits
        return self.grouped and index > 0 and hits[index - 1].document == hits[index].document

    def group_url(self, grouped: bool) -> str:
        """This search as a list of documents with their best passages, or as a list of passages."""
        return "/search?" + query_string(self.request, page=None, group="document" if grouped else None)

    @property
    def filtered(self) -> bool:
        """Whether a facet or date filter is active."""
        return bool(self.request.filters or self.request.date_from or self.request.date_to)

    @property
    def sidebar(self) -> list[tuple[str, tuple[FacetValue, ...]]]:
        """Each facet with its values, in SIDEBAR_ORDER."""
        return [(name, self.results.facets.get(name, ())) for name in SIDEBAR_ORDER]

    def label(self, facet: str, value: str | None) -> str:
        """What a person reads for a facet value (the value itself when the facets do not list it)."""
        if value is None:
            return ""
        return self.labels.get(facet, {}).get(value, value)

    def page_url(self, page: int) -> str:
        """This search's page `page`."""
        return "/search?" + query_string(self.request, page=None if page == 1 else page)

    def next_url(self) -> str | None:
        """The next page: by cursor when this one was reached by a cursor (it holds still), else by number."""
        if self.request.cursor is not None:
            return next_url(self.request, self.results)
        return self.page_url(self.request.page + 1) if self.request.page < self.last_page else None

    def export_url(self, fmt: str, sep: str | None = None) -> str:
        """Every match of this search in format `fmt` (csv, ndjson), CSV cells separated by `sep`."""
        return "/search?" + query_string(self.request, page=None, format=fmt, sep=sep)

    def suggestion_url(self) -> str:
        """This search with the suggested spelling."""
        return "/search?" + query_string(self.request, q=self.results.suggestion, page=None)

    @property
    def searched(self) -> str:
        """The query whose results the page shows: the corrected one when the search corrected it."""
        return self.results.corrected_query or self.request.query

    def corrected_url(self) -> str:
        """This search with the corrected query, as if it had been typed."""
        return "/search?" + query_string(
            self.request, q=self.results.corrected_query, page=None, correct=None
        )

    def verbatim_url(self) -> str:
        """This search of exactly what was typed, without correction."""
        return "/search?" + query_string(self.request, page=None, correct="false")

    def clear_url(self) -> str:
        """This query without any filter."""
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
        """The hit's passage in its document, the search's words marked."""
        return document_path(hit.document, hit.position, self.searched)

    @staticmethod
    def cut(hit: Hit) -> bool:
        """Whether the hit's excerpts leave some of its passage out (then the page offers it whole)."""
        return len(hit.excerpts) > 1 or any(e.startswith("… ") or e.endswith(" …") for e in hit.excerpts)

    def plain_url(self) -> str:
        """This search without crowding: every matching passage, in rank order."""
        return "/search?" + query_string(self.request, page=None, crowding="false")

    def more_url(self, hit: Hit) -> str | None:
        """Under the last hit of its document on this page, when crowding left some of the document's
        matching passages out of the list: its page, the search's words marked (and its matches counted
        and stepped through there)."""
        if not hit.more_in_document:
            return None
        last = {h.document: h.id for h in self.results.hits}
        return document_path(hit.document, None, self.searched) if last[hit.document] == hit.id else None

    def feed_url(self) -> str:
        """This search's Atom feed: its newest matching passages, for a feed reader to follow."""
        return "/search?" + query_string(self.request, page=None, per_page=None, format="atom")

    def citation(self, hit: Hit) -> Citation:
        """The hit's passage cited, with its permalink (« Citer »)."""
        return of_hit(hit, self.base_url)

    def year_bars(self) -> list[histogram.Bar]:
        """The year facet as the bars of a histogram."""
        return histogram.bars(self.results.facets.get("year", ()))

    @property
    def show_interpretation(self) -> bool:
        """Whether the query was understood otherwise than typed, or corrected (then the page says how)."""
        typed = " ".join(self.searched.split())
        return bool(typed) and self.results.interpreted_as.strip() != typed


async def search_endpoint(request: Request) -> Response:
    """Search passages. Answers HTML to browsers, JSON to other clients; `format=csv|ndjson` exports."""
    search_request = parse(request)
    fmt = response_format(request)
    archive: Archive = request.app.state.archive
    search_request.validate()  # a bad parameter is a 400, even to a conditional request
    found, unchanged = await caching.conditional(request, fmt)  # before any search: a 304 costs none
    if unchanged is not None:
        return unchanged
    cache = caching.headers_for(found)
    if fmt in ("csv", "ndjson"):
        export = await export_response(request, archive, search_request, fmt)
        export.headers.update(cache)
        return export
    if fmt == "atom":
        address = query_string(search_request, page=None, per_page=None)
        return await atom_response(request, archive, search_request, address, found)
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
        {
            "page": SearchPage(search_request, results, request.app.state.settings.base_url or ""),
            "results": results,
            "title": _title(search_request),
        },
        headers=cache,
    )


def next_url(request: SearchRequest, results: SearchResults, fmt: str | None = None) -> str | None:
    """The relative address of the page after `results`, by its cursor; None on the last page."""
    if results.next_cursor is None:
        return None
    return "/search?" + query_string(request, page=None, cursor=results.next_cursor, format=fmt)


def _title(request: SearchRequest) -> str:
    return f"« {request.query} » – Recherche" if request.query.strip() else "Recherche dans l'archive"
