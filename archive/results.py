"""What a search answers: hits, facet values, a page of results, a document view, the archive's statistics.

They carry ids, never web addresses: each `to_json()` adds the `url` fields of the JSON bodies through
`wire.document_path`, the one place the link shape is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from . import wire
from .models import FACETS, Metadata, Passage
from .wire import DOCUMENT_PAGE


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
class Copy:
    """Another document holding the same text as a hit (or nearly): where its copy stands."""

    document: str
    position: int
    title: str

    def to_json(self) -> wire.Copy:
        """One entry of a hit's `duplicates.documents`."""
        return {
            "document": self.document,
            "position": self.position,
            "title": self.title,
            "url": wire.document_path(self.document, self.position),
        }


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
    start: int  # offset of the passage in its document's clean text: what its permalink names
    more_in_document: int = 0  # matching passages of its document that a crowded list leaves out
    excerpts: tuple[str, ...] = ()  # one or two stretches around the matches, escaped HTML like `highlight`
    duplicates: tuple[Copy, ...] | None = None  # other documents holding its text; None: not looked for

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
            "more_in_document": self.more_in_document,
            "excerpts": list(self.excerpts),
            "permalink": wire.permalink(self.document, self.start),
            "duplicates": None
            if self.duplicates is None
            else {"count": len(self.duplicates), "documents": [c.to_json() for c in self.duplicates]},
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
    listed: int | None = None  # passages the pages list in all (crowding leaves some out); None: `total`
    complete: int | None = None  # passages holding every word (relaxed, `total` has more); None: `total`

    @property
    def rows(self) -> int:
        """How many passages the pages list in all: `total`, less those crowding leaves out."""
        return self.total if self.listed is None else self.listed

    @property
    def complete_total(self) -> int:
        """How many of the `total` passages hold every word of the query: all of them unless `relaxed`."""
        return self.total if self.complete is None else self.complete

    @property
    def loosened(self) -> bool:
        """Whether some of the passages listed lack a word of the query (relaxation), so that a headline
        tells them from those holding every word."""
        return self.relaxed and self.complete_total < self.total

    @property
    def pages(self) -> int:  # noqa: D102 (what it counts is said by `rows`)
        return max(1, -(-self.rows // self.per_page))

    def to_json(self) -> wire.SearchResults:
        """The `/search` JSON body, shared by the CLI's `--json` and the HTTP API."""
        return {
            "query": self.query,
            "interpreted_as": self.interpreted_as,
            "total": self.total,
            "complete_total": self.complete_total,
            "documents": self.documents,
            "page": self.page,
            "per_page": self.per_page,
            "listed": self.rows,
            "pages": self.pages,
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
    # each passage starting a section on the page: its heading and the text under it, highlighted
    headed: tuple[tuple[str, str] | None, ...] = ()
    matches: tuple[int, ...] = ()  # positions of the passages that match the query, in the whole document
    page: int = 1  # `passages` is this page of the document, DOCUMENT_PAGE passages at most
    per_page: int = DOCUMENT_PAGE
    total_passages: int = 0  # in the whole document
    notes: tuple[str, ...] = ()  # what was done to the query (partial matches past the deadline...)
    cited: int | None = None  # position of the passage holding the offset a permalink asks for (`at`)
    corrected_query: str | None = None  # matched instead of the search's query, as its search did

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
            "cited": self.cited,
            "corrected_query": self.corrected_query,
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
