"""`GET /search`: one URL for people (HTML), programs (JSON) and spreadsheets (CSV, see export.py)."""

from __future__ import annotations

from dataclasses import replace

import anyio
import anyio.to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from archive import FACETS, SORTS, UNDATED, Archive, SearchRequest

from . import caching
from .errors import HttpError, bad_parameter
from .export import export_response
from .feed import atom_response
from .links import next_url, query_string
from .negotiation import response_format
from .rendering import json_response, render
from .searchpage import SearchPage

_FACET_VALUES = {  # what a facet's values are, when not "<facet> facet value"
    "type": "document type slug",
    "year": "year, four digits, or sans-date for the undated documents (400 otherwise)",
}

PARAMETERS: dict[str, str] = {
    "q": 'query text: words, "phrases", OR, NOT, prefix*, field:value (empty browses everything)',
    **{name: f"{_FACET_VALUES.get(name, name + ' facet value')} (repeatable, OR'ed)" for name in FACETS},
    "from": "only documents dated on or after this ISO day",
    "to": "only documents dated on or before this ISO day",
    "sort": "relevance (default), newest or oldest; the page's French labels are accepted too: pertinence, "
    "recents (or récents), anciens",
    "page": "page of hits, from 1 (default 1); past the last page: no hits, `pages` says how many there are",
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


def matching(request: Request) -> SearchRequest:
    """What picks a search's passages in the query string: `q`, the filters, `from`, `to`, `correct`
    (the rest at its defaults); 400 for malformed values. Shared by `/search` and a document's page,
    whose matches are the search's.

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
    _check_years(filters.get("year", ()))
    bounded_parameters(request)
    return SearchRequest(
        query=params.get("q", ""),
        filters=filters,
        date_from=None if "from" in removed else params.get("from") or None,
        date_to=None if "to" in removed else params.get("to") or None,
        correct=boolean_parameter(request, "correct", True),
    )


SORT_ALIASES = {"pertinence": "relevance", "recents": "newest", "récents": "newest", "anciens": "oldest"}
"""French names of the sorts (the page labels them « Pertinence », « … les plus récents d'abord », « … les
plus anciens d'abord »), accepted for `sort` as a person might type them; links always send the English."""


def _check_years(years: tuple[str, ...]) -> None:
    """400 for a year that is none (`20x9` selected nothing, silently), in French for people."""
    for year in years:
        if not SearchRequest.is_year(year):
            raise bad_parameter(
                "year",
                f"year must be four digits (2024) or {UNDATED}, not {year[:40]!r}",
                f"« {year[:40]} » n'est pas une année : une année s'écrit avec quatre chiffres (2024), "
                f"ou « {UNDATED} » pour les documents non datés.",
            )


def listing(
    request: Request, search: SearchRequest, page: str = "page", per_page: str = "per_page"
) -> SearchRequest:
    """`search` listed as the query string asks: `sort`, `crowding`, and the page and its size, read from
    the parameters named `page` and `per_page` (a document's page names the search's `search_page`...)."""
    sort = (request.query_params.get("sort") or "relevance").lower()
    sort = SORT_ALIASES.get(sort, sort)
    if sort not in SORTS:
        raise bad_parameter(
            "sort",
            f"sort must be one of {', '.join(SORTS)} (or {', '.join(SORT_ALIASES)}), not {sort[:40]!r}",
        )
    return replace(
        search,
        sort=sort,  # type: ignore[arg-type]
        page=integer_parameter(request, page, 1),
        per_page=integer_parameter(request, per_page, 10),
        crowding=boolean_parameter(request, "crowding", True),
        group=_group(request.query_params.get("group")),
    )


def _group(value: str | None) -> bool:
    """`group=document`: a list of documents; nothing else is accepted (400)."""
    if value in (None, ""):
        return False
    if value != "document":
        raise bad_parameter("group", "group must be document (a list of documents with their best passages)")
    return True


def parse(request: Request) -> SearchRequest:
    """The `SearchRequest` a query string asks for; 400 for malformed numbers (ranges are the core's job)."""
    search = listing(request, matching(request))
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and "page" in request.query_params:
        raise bad_parameter(
            "cursor", "cursor cannot be combined with page: the cursor says where the page starts"
        )
    return replace(search, cursor=cursor)


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


def _title(request: SearchRequest) -> str:
    return f"« {request.query} » – Recherche" if request.query.strip() else "Recherche dans l'archive"
