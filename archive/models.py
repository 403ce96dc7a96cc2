"""The core's own value types: what goes in (documents, passages) and what comes out (hits, facets, results).

Whoosh objects never leave the indexing and searching modules; everything else speaks these dataclasses.
They carry ids, never web addresses: each `to_json()` adds the `url` fields of the JSON bodies through
`wire.document_path`, the one place the link shape is built. What a write did (outcomes, reports, the
problems `check` finds) is in outcomes.py.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Literal, cast

from . import wire
from .errors import UsageError
from .wire import DOCUMENT_PAGE

FACETS: tuple[str, ...] = ("agency", "offence", "year", "source", "type")
"""The facet names, in the order front ends show them."""

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")

MAX_SELECTED = 20
"""Values one facet filter may select at once. A researcher ticks a handful (the archive's years span a
few decades); each selected value costs a posting-list union and a line of the page, so 1,700 of them
were a way to freeze the service. More is refused with a clear error, never silently dropped."""


Status = wire.Status


@dataclass(frozen=True)
class Metadata:
    """A document's descriptive metadata, merged from the file itself and its sidecar."""

    title: str
    date: str | None = None  # ISO 8601 day, "YYYY-MM-DD"
    source: str | None = None
    type: str | None = None  # slug: article, communique, decision, rapport, ...
    language: str = "fr"
    description: str | None = None
    agency: tuple[str, ...] = ()  # explicit taxonomy ids
    offence: tuple[str, ...] = ()
    url: str | None = None

    @property
    def year(self) -> int | None:
        """The year of `date`, if any."""
        return int(self.date[:4]) if self.date else None

    def to_json(self) -> wire.Metadata:
        """The metadata a document view shows (agency and offence are the view's own fields)."""
        return {
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "type": self.type,
            "language": self.language,
            "description": self.description,
            "url": self.url,
        }


@dataclass(frozen=True)
class Block:
    """One paragraph or heading of a document's clean text."""

    text: str
    heading: bool = False


@dataclass(frozen=True)
class Extracted:
    """What an extractor gets out of a file: clean blocks of text and the metadata the file carries."""

    blocks: tuple[Block, ...]
    metadata: dict[str, object]
    format: str  # txt, md, html, pdf
    encoding: str | None = None

    @property
    def text(self) -> str:
        """The clean text: the blocks, a blank line between them."""
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(frozen=True)
class Terms:
    """A passage's text as analysed once where it was prepared (`analysis.Analyzed`), for the writer: the
    keys of its words that are not stop words with their positions, and its vocabulary (folded -> as
    written). Flat arrays, so that it crosses a process boundary cheaply."""

    keys: tuple[str, ...]
    positions: array[int]  # typecode "I"
    vocabulary: dict[str, str]


@dataclass(frozen=True)
class Passage:
    """A readable piece of a document; `start`/`end` are offsets in the document's clean text."""

    document: str
    position: int  # 1-based
    section: str
    start: int
    end: int
    text: str
    agency: tuple[str, ...] = ()
    offence: tuple[str, ...] = ()
    terms: Terms | None = field(default=None, compare=False, repr=False)  # None: analysed when indexed

    @property
    def id(self) -> str:
        """`<document id>#p<position>`."""
        return f"{self.document}#p{self.position}"

    def to_json(self, highlight: str, match: bool) -> wire.Passage:
        """The passage as a document view shows it, `highlight` being its text as escaped HTML."""
        return {
            "id": self.id,
            "position": self.position,
            "section": self.section,
            "text": self.text,
            "highlight": highlight,
            "agency": list(self.agency),
            "offence": list(self.offence),
            "match": match,
            "url": wire.document_path(self.document, self.position),
        }


@dataclass(frozen=True)
class Document:
    """A document ready for the index: identity, fixity, metadata and passages."""

    id: str  # path relative to documents/, POSIX, with extension
    sha256: str
    fingerprint: str  # changes when the file, its sidecar, the taxonomy or the schema change
    format: str
    metadata: Metadata
    passages: tuple[Passage, ...]
    size: int = 0

    @property
    def agency(self) -> tuple[str, ...]:
        """Agency ids of the metadata and of every passage, first seen first."""
        return _union(self.metadata.agency, *(p.agency for p in self.passages))

    @property
    def offence(self) -> tuple[str, ...]:
        """Offence ids of the metadata and of every passage, first seen first."""
        return _union(self.metadata.offence, *(p.offence for p in self.passages))


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)


@dataclass(frozen=True)
class SearchRequest:
    """Everything a front end can ask of a search; `validate` checks it before any search or export runs."""

    query: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet name -> OR'ed values
    date_from: str | None = None  # ISO day, inclusive
    date_to: str | None = None
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 10
    cursor: str | None = None  # a previous page's `next_cursor`: the page after it (instead of `page`)
    correct: bool = True  # a query matching nothing is searched as its spelling suggestion, when that finds

    def validate(self) -> SearchRequest:
        """This request, once its parameters are in range; UsageError names the parameter at fault."""
        self._check_paging()
        if self.sort not in SORTS:
            raise UsageError(f"sort must be one of {', '.join(SORTS)}", "sort")
        for name, value in (("from", self.date_from), ("to", self.date_to)):
            if value is not None and not self._iso_day(value):
                raise UsageError(f"{name} must be an ISO date like 2024-06-27", name)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UsageError("from must not be after to", "from")
        for name in self.filters:
            if name not in FACETS:
                raise UsageError(f"unknown facet {name!r}: use {', '.join(FACETS)}", name)
        self.check_filters(self.filters)
        return self

    def _check_paging(self) -> None:
        """UsageError for a page, cursor or page size out of range."""
        if self.page < 1:
            raise UsageError("page must be 1 or more", "page")
        if self.page > 10_000:
            raise UsageError("page must be at most 10000", "page")
        if self.cursor is not None and self.page != 1:
            raise UsageError(
                "cursor cannot be combined with page: the cursor says where the page starts", "cursor"
            )
        if not 1 <= self.per_page <= 100:
            raise UsageError("per_page must be between 1 and 100", "per_page")

    @staticmethod
    def check_filters(filters: dict[str, tuple[str, ...]]) -> None:
        """Refuse more than MAX_SELECTED values of one facet (UsageError naming the facet)."""
        for name, values in filters.items():
            if len(values) > MAX_SELECTED:
                raise UsageError(
                    f"{name}: at most {MAX_SELECTED} values can be selected at once, not {len(values)}", name
                )

    @staticmethod
    def _iso_day(value: str) -> bool:
        """Whether `value` is a real calendar day written as ISO's YYYY-MM-DD, and nothing else."""
        import datetime

        try:
            return datetime.date.fromisoformat(value).isoformat() == value
        except ValueError:
            return False


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet: what a filter sends, what a person reads, its count, whether it is selected."""

    value: str
    label: str
    count: int
    selected: bool

    def to_json(self) -> wire.FacetValue:
        """One facet value of a search's (or the stats') facets."""
        return {"value": self.value, "label": self.label, "count": self.count, "selected": self.selected}


def facets_json(facets: dict[str, tuple[FacetValue, ...]]) -> wire.Facets:
    """Every facet of FACETS, empty when `facets` lacks it (an archive with no index)."""

    # wire.Facets has one key per name of FACETS (tests/test_models.py holds them equal)
    return cast(wire.Facets, {name: [f.to_json() for f in facets.get(name, ())] for name in FACETS})


@dataclass(frozen=True)
class Hit:
    """A matching passage with its document's metadata; `to_json` adds the address of its page."""

    id: str
    document: str
    position: int
    section: str
    title: str
    date: str | None
    source: str | None
    type: str | None
    text: str
    highlight: str  # escaped HTML; only <mark> is markup
    agency: tuple[str, ...]
    offence: tuple[str, ...]
    score: float

    def to_json(self) -> wire.Hit:
        """One hit of the `/search` body."""
        return {
            "id": self.id,
            "document": self.document,
            "position": self.position,
            "section": self.section,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "type": self.type,
            "text": self.text,
            "highlight": self.highlight,
            "agency": list(self.agency),
            "offence": list(self.offence),
            "score": self.score,
            "url": wire.document_path(self.document, self.position),
        }


@dataclass(frozen=True)
class SearchResults:
    """One page of a search's hits, with the facet counts and what was done to the query."""

    query: str
    interpreted_as: str
    total: int
    documents: int  # distinct documents among all matching passages
    page: int
    per_page: int
    hits: tuple[Hit, ...]
    facets: dict[str, tuple[FacetValue, ...]]
    suggestion: str | None
    relaxed: bool
    took_ms: float
    notes: tuple[str, ...] = ()  # what was done to the query: relaxed, truncated, wildcard bounded...
    next_cursor: str | None = None  # where the next page starts (see archive/cursor.py); None on the last
    corrected_query: str | None = None  # searched instead of `query`, which matched no passage in full

    def to_json(self) -> wire.SearchResults:
        """The `/search` JSON body, shared by the CLI's `--json` and the HTTP API."""
        return {
            "query": self.query,
            "interpreted_as": self.interpreted_as,
            "total": self.total,
            "documents": self.documents,
            "page": self.page,
            "per_page": self.per_page,
            "pages": max(1, -(-self.total // self.per_page)),
            "took_ms": round(self.took_ms, 2),
            "relaxed": self.relaxed,
            "notes": list(self.notes),
            "hits": [h.to_json() for h in self.hits],
            "facets": facets_json(self.facets),
            "suggestion": self.suggestion,
            "next_cursor": self.next_cursor,
            "corrected": self.corrected_query is not None,
            "corrected_query": self.corrected_query,
        }


@dataclass(frozen=True)
class DocumentView:
    """A stored document as the document page shows it."""

    id: str
    sha256: str
    format: str
    metadata: Metadata
    agency: tuple[str, ...]
    offence: tuple[str, ...]
    passages: tuple[Passage, ...]
    size: int
    highlights: tuple[str, ...] = ()  # each passage as escaped HTML, query words in <mark>
    matches: tuple[int, ...] = ()  # positions of the passages that match the query, in the whole document
    page: int = 1  # `passages` is this page of the document, DOCUMENT_PAGE passages at most
    per_page: int = DOCUMENT_PAGE
    total_passages: int = 0  # in the whole document
    notes: tuple[str, ...] = ()  # what was done to the query (partial matches past the deadline...)

    @property
    def pages(self) -> int:
        """How many pages of `per_page` passages the document has (1 at least)."""
        return max(1, -(-self.total_passages // self.per_page))

    def to_json(self) -> wire.DocumentView:
        """The `/documents/{id}` JSON body: metadata, matches and this page's passages."""
        url = wire.document_path(self.id)
        matches = set(self.matches)
        highlights = self.highlights
        return {
            "id": self.id,
            "url": url,
            "original_url": url + "/original",
            "format": self.format,
            "size": self.size,
            "sha256": self.sha256,
            "metadata": self.metadata.to_json(),
            "agency": list(self.agency),
            "offence": list(self.offence),
            "matches": list(self.matches),
            "notes": list(self.notes),
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "total_passages": self.total_passages,
            "passages": [
                p.to_json(h, p.position in matches) for p, h in zip(self.passages, highlights, strict=True)
            ],
        }


@dataclass(frozen=True)
class Stats:
    """What the live index holds: documents, passages, build time, size on disk and facet counts."""

    documents: int
    passages: int
    built_at: str | None
    schema_version: int
    index_bytes: int
    generation: str | None
    facets: dict[str, tuple[FacetValue, ...]]

    def health(self, degraded: wire.Degraded | None) -> wire.Health:
        """The `/health` body; `degraded` is the failed write `Archive.health()` reports, if any."""
        return {
            "status": "degraded" if degraded else "ok" if self.generation else "no_index",
            "documents": self.documents,
            "passages": self.passages,
            "built_at": self.built_at,
            "generation": self.generation,
            "schema_version": self.schema_version,
            "degraded": degraded,
        }

    def to_json(self, degraded: wire.Degraded | None) -> wire.Stats:
        """The `archive stats --json` body: the health fields, the index's size and the facet counts."""
        return {**self.health(degraded), "index_bytes": self.index_bytes, "facets": facets_json(self.facets)}
