"""The JSON the archive speaks: one typed shape per body, returned by the models' `to_json()`.

These TypedDicts are the single definition of every JSON body the core builds (the HTTP API's and the
CLI's `--json`): `mypy --strict` holds each `to_json()` to its shape, and `web/openapi.py` derives the
OpenAPI schemas from them, so the document cannot drift from what is sent. A class's name is its schema's
name in `/openapi.json`; its docstring and `Meta` descriptions are the schema's documentation.

Compatibility: field names and types never change and no field is removed; fields may be added (see
docs/web.md, "The contract").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, TypedDict
from urllib.parse import quote, urlencode

from msgspec import Meta

Status = Literal["added", "updated", "unchanged", "removed", "rejected", "duplicate"]
HealthStatus = Literal["ok", "no_index", "degraded"]

_COUNT = Meta(ge=0)
_POSITION = Meta(ge=1, description="1-based position of the passage in its document")
_HIGHLIGHT = Meta(description="the text as escaped HTML in which `<mark>` is the only markup")
_DAY = Meta(description="ISO day, YYYY-MM-DD")
_PERMALINK = Meta(
    description="relative stable address of the passage: `/documents/<id>?at=<offset>#c<offset>`, the offset "
    "of its first character in the document's text, which opens the passage holding that character, "
    "however the document is cut into passages (a reindex with other passage sizes keeps it)"
)


class FacetValue(TypedDict):
    """One value of a facet with the number of matching passages that carry it."""

    value: Annotated[str, Meta(description="what a filter sends (a taxonomy id, a year, a type slug...)")]
    label: Annotated[str, Meta(description="what a person reads")]
    count: Annotated[int, _COUNT]
    selected: Annotated[bool, Meta(description="whether the search filters on this value")]


class Facets(TypedDict):
    """Each facet's values, most frequent first (years newest first). Each facet's counts ignore that
    facet's own filter (multi-select), so ticking a second value widens the results."""

    agency: list[FacetValue]
    offence: list[FacetValue]
    year: list[FacetValue]
    source: list[FacetValue]
    type: list[FacetValue]


class Hit(TypedDict):
    """A matching passage."""

    id: Annotated[str, Meta(description="<document id>#p<position>")]
    document: Annotated[str, Meta(description="the document id: its path under documents/")]
    position: Annotated[int, _POSITION]
    section: Annotated[str, Meta(description="the heading the passage is under, or empty")]
    title: str
    date: Annotated[str | None, _DAY]
    source: str | None
    type: Annotated[str | None, Meta(description="document type slug (article, communique, decision...)")]
    text: str
    highlight: Annotated[str, _HIGHLIGHT]
    agency: Annotated[list[str], Meta(description="taxonomy ids")]
    offence: Annotated[list[str], Meta(description="taxonomy ids")]
    score: Annotated[float, Meta(description="BM25F relevance; 0 when sorted by date")]
    url: Annotated[str, Meta(description="relative address of the document page, landing on the passage")]
    excerpts: Annotated[
        list[str],
        Meta(
            description="one or two stretches of about 40 words around the matches (the whole passage when "
            "short), escaped HTML like `highlight`, with … where the passage goes on"
        ),
    ]
    more_in_document: Annotated[
        int,
        Meta(
            ge=0,
            description="matching passages of this document the list leaves out (at most 2 of a document "
            "are listed unless crowding=false): see them on its page, `url` without the anchor plus `q`",
        ),
    ]
    permalink: Annotated[str, _PERMALINK]
    duplicates: Annotated[
        Duplicates | None,
        Meta(
            description="the other documents holding this passage's text, the same or nearly (90 % of its "
            "word shingles at least): the list shows the text once, here, and leaves their copies out "
            "(unless crowding=false); null where not looked for (exports, feeds)"
        ),
    ]


class Copy(TypedDict):
    """Another document holding a hit's text, the same or nearly: its copy of the passage."""

    document: Annotated[str, Meta(description="the document's id")]
    position: Annotated[int, _POSITION]
    title: str
    url: Annotated[str, Meta(description="relative address of the document page, landing on the copy")]


class Duplicates(TypedDict):
    """Where else a hit's text stands: "aussi dans N documents"."""

    count: Annotated[int, Meta(ge=0, description="other documents holding a copy of the passage")]
    documents: Annotated[list[Copy], Meta(description="each of them, with its copy (its first one)")]


class SearchResults(TypedDict):
    """One page of search results: the body of `GET /search` and of `archive search --json`."""

    query: str
    interpreted_as: Annotated[str, Meta(description="how the query was understood")]
    total: Annotated[int, Meta(ge=0, description="matching passages")]
    complete_total: Annotated[
        int,
        Meta(
            ge=0,
            description="the passages of `total` holding every word of the query: `total` itself unless "
            "`relaxed` added passages holding only the essential of it (then fewer, maybe 0)",
        ),
    ]
    documents: Annotated[int, Meta(ge=0, description="distinct documents among the matching passages")]
    page: Annotated[int, Meta(ge=1)]
    per_page: Annotated[int, Meta(ge=1)]
    listed: Annotated[
        int,
        Meta(ge=0, description="passages the pages list in all: `total` less those crowding leaves out"),
    ]
    pages: Annotated[int, Meta(ge=1, description="pages of `per_page` hits among the `listed` passages")]
    took_ms: float
    relaxed: Annotated[bool, Meta(description="few passages held every word: some with fewer were added")]
    notes: Annotated[list[str], Meta(description="what was done to the query (relaxed, cut, stopped...)")]
    hits: list[Hit]
    facets: Facets
    suggestion: Annotated[
        str | None, Meta(description="a corrected query, when a word is unknown (null when `corrected`)")
    ]
    next_cursor: Annotated[
        str | None, Meta(description="opaque: send it as `cursor` for the next page; null on the last page")
    ]
    corrected: Annotated[
        bool,
        Meta(
            description="`query` matched no passage, its spelling suggestion did: the hits are the latter's"
        ),
    ]
    corrected_query: Annotated[
        str | None, Meta(description="the query searched instead of `query` when `corrected`, else null")
    ]


class Metadata(TypedDict):
    """A document's descriptive metadata."""

    title: str
    date: Annotated[str | None, _DAY]
    source: str | None
    type: str | None
    language: str
    description: str | None
    url: Annotated[str | None, Meta(description="where the document was published, when known")]


class Passage(TypedDict):
    """A passage of a document view."""

    id: str
    position: Annotated[int, _POSITION]
    section: str
    text: str
    highlight: Annotated[str, _HIGHLIGHT]
    agency: list[str]
    offence: list[str]
    match: Annotated[bool, Meta(description="whether the passage matches the view's query `q`")]
    url: str
    permalink: Annotated[str, _PERMALINK]


class DocumentView(TypedDict):
    """A stored document and one page of its passages: the body of `GET /documents/{id}`."""

    id: str
    url: str
    original_url: Annotated[str, Meta(description="the stored file, as a download")]
    format: Annotated[str, Meta(description="txt, md, html or pdf")]
    size: Annotated[int, Meta(ge=0, description="bytes")]
    sha256: str
    metadata: Metadata
    agency: list[str]
    offence: list[str]
    matches: Annotated[
        list[int], Meta(description="positions of every passage the search (`q` and filters) matches, all pages")
    ]
    notes: list[str]
    corrected_query: Annotated[
        str | None, Meta(description="the query matched instead of `q`, as its search corrected it; else null")
    ]
    page: Annotated[int, Meta(ge=1)]
    per_page: Annotated[int, Meta(ge=1)]
    pages: Annotated[int, Meta(ge=1)]
    total_passages: Annotated[int, _COUNT]
    cited: Annotated[
        int | None,
        Meta(
            description="with `at` (a permalink's offset): the position of the passage holding it, else null"
        ),
    ]
    passages: Annotated[list[Passage], Meta(description="this page's passages, in order")]


class Reason(TypedDict):
    """Why a file was refused: a stable code for programs and a sentence for people."""

    code: str
    message: str


class Outcome(TypedDict):
    """What happened to one file."""

    path: Annotated[str, Meta(description="document id, or the name given for a file never stored")]
    status: Status
    reason: Reason | None
    duplicate_of: Annotated[str | None, Meta(description="the document holding the same content")]
    passages: Annotated[int, _COUNT]
    url: Annotated[str | None, Meta(description="the document page, when the file is stored")]


class Counts(TypedDict):
    """Files per outcome status."""

    added: Annotated[int, _COUNT]
    updated: Annotated[int, _COUNT]
    unchanged: Annotated[int, _COUNT]
    removed: Annotated[int, _COUNT]
    duplicate: Annotated[int, _COUNT]
    rejected: Annotated[int, _COUNT]


class Upload(TypedDict):
    """What an upload did to each file."""

    outcomes: list[Outcome]
    counts: Counts


class Degraded(TypedDict):
    """The last write that failed for a reason of ours (the live index kept serving)."""

    what: str
    code: str
    reason: str
    since: Annotated[str | None, Meta(description="UTC, ISO 8601")]


class Health(TypedDict):
    """Service and index status: the body of `GET /health`."""

    status: HealthStatus
    documents: Annotated[int, _COUNT]
    passages: Annotated[int, _COUNT]
    built_at: str | None
    generation: Annotated[str | None, Meta(description="the live index generation")]
    schema_version: int
    degraded: Degraded | None


class Stats(Health):
    """The health fields with the index's size and facet counts: the body of `archive stats --json`."""

    index_bytes: Annotated[int, _COUNT]
    facets: Facets


BODIES: tuple[type, ...] = (SearchResults, DocumentView, Upload, Health, Stats)
"""The bodies the core builds; the schemas they reference come with them."""


DOCUMENT_PAGE = 200
"""Passages per page of a document view: a 65,000-passage document was 115 MB of JSON in one answer.
Passage `#p<position>` of a document is on page `(position - 1) // DOCUMENT_PAGE + 1`."""


def document_path(
    document_id: str, position: int | None = None, query: str = "", search: Sequence[tuple[str, str]] = ()
) -> str:
    """The relative address of a document's page, landing on passage `position` and marking `query`'s matches.

    The one place the link shape is built (every `url` of the JSON bodies, and the HTML pages' links).
    Passages past the first page of the document add `p=<position>`, which opens the page holding it;
    the `#p<position>` anchor then lands on the passage itself. `search` is the rest of the search the
    link comes from, as query parameters (its filters, and where its list stood: see docs/web.md).
    """
    path = "/documents/" + quote(document_id, safe="/")
    params: list[tuple[str, str]] = []
    if position and position > DOCUMENT_PAGE:
        params.append(("p", str(position)))
    if query.strip():
        params.append(("q", query))
    params.extend(search)
    if params:
        path += "?" + urlencode(params)
    return f"{path}#p{position}" if position else path


def permalink(document_id: str, offset: int) -> str:
    """The stable address of the passage holding character `offset` of a document's clean text.

    Positions (`#p<position>`) change when a reindex cuts the document into passages of other sizes;
    offsets into the clean text do not. The document page resolves `at` to the passage holding it (the
    next one when the offset falls between two, the last one past the end) and marks it `#c<offset>`.
    """
    return f"/documents/{quote(document_id, safe='/')}?at={offset}#c{offset}"
