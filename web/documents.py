"""Document pages (`GET /documents/{id}`) and originals (`GET /documents/{id}/original`)."""

from __future__ import annotations

import bisect
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import quote, urlencode

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from archive import FACETS, Archive, DocumentView, SearchRequest, UsageError, document_path

from . import caching
from .citation import cite
from .errors import bad_parameter
from .links import IN_DOCUMENT, carried, search_url
from .negotiation import response_format
from .rendering import json_response, render
from .search import PARAMETERS, bounded_parameters, integer_parameter, listing, matching

_MATCHING = ("q", *FACETS, "from", "to", "correct")
SEARCH_PARAMETERS: dict[str, str] = {
    **{
        name: f"of the search the page comes from, which picks its matches: {PARAMETERS[name]}"
        for name in _MATCHING
    },
    **{
        name: f"of the search the page comes from, for the way back to it: {PARAMETERS[old]}"
        for old, name in (("sort", "sort"), ("crowding", "crowding"), *IN_DOCUMENT.items())
    },
}
"""The search parameters a document page reads (the OpenAPI document lists them): what picks the
document's matches, as `/search` reads them, and where the search's list stood (`search_page`...)."""


def _document(
    archive: Archive, doc_id: str, search: SearchRequest, page: int, position: int | None, at: int | None = None
) -> DocumentView:
    return archive.document(doc_id, search, page=page, position=position, at=at)


def search_of(request: Request) -> SearchRequest:
    """The search a document page was reached from, as its link carries it (links.py): `q`, the filters,
    `from`, `to` and `correct` pick the document's matches; `sort`, `crowding`, `search_page` and
    `search_per_page` say where the search's list stood, for the way back. 400 for a bad value."""
    search = listing(request, matching(request), **IN_DOCUMENT)
    try:
        return replace(search, cursor=None).validate()
    except UsageError as error:
        name = IN_DOCUMENT.get(error.parameter or "", error.parameter or "")
        raise bad_parameter(name, str(error).replace(error.parameter or name, name, 1)) from None


async def document_endpoint(request: Request) -> Response:
    """One page of a document's passages in order (anchors `#p<position>`); a search's matches marked.

    `page` picks a page of DOCUMENT_PAGE passages; `p=<position>` picks the page that holds that passage
    (what search results link to, with the `#p<position>` anchor); `at=<offset>` (a permalink, anchor
    `#c<offset>`) the page of the passage holding that character of the text, whatever the passage
    sizes. The matches are those of the search the parameters carry (`search_of`): `q` and the
    filters, as `/search` counts them. They are found under the search deadline, in a search thread.
    """
    params = bounded_parameters(request)
    fmt = response_format(request, ("html", "json"))
    doc_id: str = request.path_params["doc_id"]
    search = search_of(request)
    page = integer_parameter(request, "page", 1)
    position = integer_parameter(request, "p", 0) if params.get("p", "").strip() else None
    at = integer_parameter(request, "at", 0) if params.get("at", "").strip() else None  # a permalink's
    archive: Archive = request.app.state.archive
    found, unchanged = await caching.conditional(
        request, fmt
    )  # before reading the index: a 304 costs no read
    if unchanged is not None:
        return unchanged
    cache = caching.headers_for(found)
    view = await anyio.to_thread.run_sync(
        _document, archive, doc_id, search, page, position, at, limiter=request.app.state.searches
    )
    if fmt == "json":
        return await json_response(request, view.to_json, headers=cache)
    citing = _citations(view, request.app.state.settings.base_url or "", at)
    return await render(request, "document.html", {**_context(archive, view, search), **citing}, headers=cache)


def _citations(view: DocumentView, base_url: str, at: int | None) -> dict[str, object]:
    """Each passage's citation (« Citer »), and the offset a permalink asked for (`at`: its anchor)."""
    m = view.metadata
    citations = [
        cite(
            document=view.id,
            start=p.start,
            title=m.title,
            source=m.source,
            date=m.date,
            section=p.section,
            position=p.position,
            base_url=base_url,
        )
        for p in view.passages
    ]
    return {"citations": citations, "at": at}


def _context(archive: Archive, view: DocumentView, search: SearchRequest) -> dict[str, object]:
    """What the document template needs: links between matches and pages, labels, in linear time.

    Every link within the document carries the search (its matches stay the search's), and the way back
    is the search itself, at the page of its list the reader left."""
    taxonomy = archive.taxonomy
    base = document_path(view.id)
    kept = carried(search)
    query = search.query
    shown = {p.position for p in view.passages}
    matches = list(view.matches)

    def to(position: int) -> str:
        """A match's address: its anchor on this page, else the page that holds it."""
        return f"#p{position}" if position in shown else document_path(view.id, position, query, kept)

    def page_url(page: int) -> str:
        params = [("q", query)] if query.strip() else []
        params.extend(kept)
        if page > 1:
            params.append(("page", str(page)))
        return base + ("?" + urlencode(params) if params else "")

    nav: dict[int, tuple[str | None, str | None]] = {}
    for p in view.passages:
        i = bisect.bisect_left(matches, p.position)
        if i < len(matches) and matches[i] == p.position:
            nav[p.position] = (
                to(matches[i - 1]) if i > 0 else None,
                to(matches[i + 1]) if i + 1 < len(matches) else None,
            )
    first = view.passages[0].position if view.passages else 0
    return {
        "view": view,
        "title": view.metadata.title or view.id,
        "query": query,
        "searched": view.corrected_query or query,
        "filtered": bool(search.filters or search.date_from or search.date_to),
        "matches": matches,
        "first_match": to(matches[0]) if matches else None,
        "nav": nav,
        "highlights": view.highlights,
        "headed": view.headed,
        "agency": [(a, taxonomy.label("agency", a)) for a in view.agency],
        "offence": [(o, taxonomy.label("offence", o)) for o in view.offence],
        "labels": {
            "agency": {a: taxonomy.label("agency", a) for p in view.passages for a in p.agency},
            "offence": {o: taxonomy.label("offence", o) for p in view.passages for o in p.offence},
        },
        "original_url": base + "/original",
        "back_url": search_url(search),
        "pagination": {
            "first": first,
            "last": view.passages[-1].position if view.passages else 0,
            "previous": page_url(min(view.page - 1, view.pages)) if view.page > 1 else None,
            "next": page_url(view.page + 1) if view.page < view.pages else None,
            "start": page_url(1),
            "end": page_url(view.pages),
        },
    }


async def original_endpoint(request: Request) -> Response:
    """The stored file as a download; never rendered as a page of this site, never read through a link."""
    archive: Archive = request.app.state.archive
    name, handle, size, media_type = await run_in_threadpool(archive.original, request.path_params["doc_id"])
    etag, modified, cache = caching.file_validators(await run_in_threadpool(os.fstat, handle.fileno()))
    if caching.not_modified(request, etag, modified):
        handle.close()
        return caching.not_modified_response(cache)

    async def body() -> AsyncIterator[bytes]:
        try:
            while chunk := await anyio.to_thread.run_sync(handle.read, 1 << 16):
                yield chunk
        finally:
            handle.close()

    headers = {
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Content-Length": str(size),
        "Content-Disposition": _attachment(name),
        **cache,
    }
    return StreamingResponse(body(), media_type=media_type, headers=headers)


def _attachment(name: str) -> str:
    """`Content-Disposition` for a download of `name` (RFC 6266: ASCII names quoted, others encoded)."""
    quoted = quote(name)
    if quoted != name:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{name}"'
