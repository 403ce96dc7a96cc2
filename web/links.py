"""The addresses of a search, and of the documents it leads to, built in one place.

A link from a results page to a document carries the whole search: what picks its matches (the query,
filters, dates, `correct`), so that the document page counts and steps through exactly the passages the
search counted there, and where its list stood (sort, page, per_page, crowding), so that « ← Retour à la
recherche » comes back to the same page of the same list. The document page has a `page` of its own,
so the search's `page` and `per_page` travel as `search_page` and `search_per_page` (IN_DOCUMENT).
"""

from __future__ import annotations

from urllib.parse import urlencode

from archive import FACETS, SearchRequest, SearchResults, document_path

IN_DOCUMENT = {"page": "search_page", "per_page": "search_per_page"}
"""The search parameters a document's page names otherwise, having a `page` of its own."""


def pairs(request: SearchRequest, **changes: object) -> list[tuple[str, str]]:
    """The query parameters of a search, `q` first, with `changes` applied (None drops a parameter)."""
    filters: list[tuple[str, str]] = []
    values: dict[str, object] = {"q": request.query}
    for name in FACETS:
        filters.extend((name, v) for v in request.filters.get(name, ()))
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
    return head + filters + tail


def query_string(request: SearchRequest, **changes: object) -> str:
    """The query string of a search, with `changes` applied (None drops a parameter)."""
    return urlencode(pairs(request, **changes))


def search_url(request: SearchRequest, **changes: object) -> str:
    """The relative address of a search (the results page for a browser), with `changes` applied."""
    query = query_string(request, **changes)
    return "/search" if query in ("", "q=") else "/search?" + query


def carried(request: SearchRequest, page: int | None = None) -> list[tuple[str, str]]:
    """What a link from a search (its list at `page`, the request's by default) to a document carries
    besides `q`, in the document page's names."""
    shown = request.page if page is None else page
    kept = pairs(request, q=None, cursor=None, page=None if shown == 1 else shown)
    return [(IN_DOCUMENT.get(k, k), v) for k, v in kept]


def in_document(
    document_id: str, position: int | None, request: SearchRequest, page: int | None = None
) -> str:
    """A document's page reached from a search: at passage `position`, the search's matches marked and
    counted, and the way back to the search's list at `page`."""
    return document_path(document_id, position, request.query, carried(request, page))


def next_url(request: SearchRequest, results: SearchResults, fmt: str | None = None) -> str | None:
    """The relative address of the page after `results`, by its cursor; None on the last page."""
    if results.next_cursor is None:
        return None
    return "/search?" + query_string(request, page=None, cursor=results.next_cursor, format=fmt)
