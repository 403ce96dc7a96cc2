"""The core's own value types: what goes in (documents, passages) and what comes out (hits, facets, results).

Whoosh objects never leave the indexing and searching modules; everything else speaks these dataclasses.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlencode

from . import wire

FACETS: tuple[str, ...] = ("agency", "offence", "year", "source", "type")
"""The facet names, in the order front ends show them."""

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")

MAX_SELECTED = 20
"""Values one facet filter may select at once. A researcher ticks a handful (the archive's years span a
few decades); each selected value costs a posting-list union and a line of the page, so 1,700 of them
were a way to freeze the service. More is refused with a clear error, never silently dropped."""

DOCUMENT_PAGE = 200
"""Passages per page of a document view: a 65,000-passage document was 115 MB of JSON in one answer.
Passage `#p<position>` of a document is on page `(position - 1) // DOCUMENT_PAGE + 1`."""

Status = wire.Status

_UNSHOWABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, invisible formatting, undecodable bytes, line breaks


def printable(text: str) -> str:
    """`text` safe to print on one line: controls and invisible characters escaped as Python writes them.

    >>> printable("a\\nb\\x1b[31m.txt"), printable("Procès-verbal.pdf"), printable("\\udcff\\u202e.txt")
    ('a\\\\nb\\\\x1b[31m.txt', 'Procès-verbal.pdf', '\\\\udcff\\\\u202e.txt')
    """
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _UNSHOWABLE else c
        for c in text
    )


def document_url(document_id: str, position: int | None = None, query: str = "") -> str:
    """The address of a document's page, landing on passage `position` and marking `query`'s matches.

    Passages past the first page of the document add `p=<position>`, which opens the page holding it;
    the `#p<position>` anchor then lands on the passage itself.
    """
    url = "/documents/" + quote(document_id, safe="/")
    params: list[tuple[str, str]] = []
    if position and position > DOCUMENT_PAGE:
        params.append(("p", str(position)))
    if query.strip():
        params.append(("q", query))
    if params:
        url += "?" + urlencode(params)
    return f"{url}#p{position}" if position else url


@dataclass(frozen=True)
class Rejection:
    """Why a file cannot be indexed: a stable code for programs and a sentence for people."""

    code: (
        str  # empty, too_large, binary, unsupported_format, undecodable, no_text_layer, unreadable, encrypted
    )
    message: str

    def to_json(self) -> wire.Reason:
        """The reason as the API and the jobs report it."""
        return {"code": self.code, "message": self.message}


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
        return "\n\n".join(b.text for b in self.blocks)


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

    @property
    def id(self) -> str:
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
            "url": document_url(self.document, self.position),
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
        return _union(self.metadata.agency, *(p.agency for p in self.passages))

    @property
    def offence(self) -> tuple[str, ...]:
        return _union(self.metadata.offence, *(p.offence for p in self.passages))


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)


@dataclass(frozen=True)
class Outcome:
    """What happened to one file in `add`, `reindex` or `remove`."""

    path: str  # document id, or the given path for files that never entered documents/
    status: Status
    reason: Rejection | None = None
    duplicate_of: str | None = None
    passages: int = 0

    def describe(self) -> str:
        path = printable(self.path)  # a given name may hold a line break: one outcome, one line
        if self.reason:
            return f"{self.status:<9} {path}: {self.reason.message} [{self.reason.code}]"
        if self.duplicate_of:
            return f"{self.status:<9} {path}: same content as {self.duplicate_of}"
        suffix = f" ({self.passages} passages)" if self.passages else ""
        return f"{self.status:<9} {path}{suffix}"

    def to_json(self) -> wire.Outcome:
        """One file's outcome in an upload's answer, with the address of the stored document."""
        stored = self.status in ("added", "unchanged")
        return {
            "path": self.path,
            "status": self.status,
            "reason": self.reason.to_json() if self.reason else None,
            "duplicate_of": self.duplicate_of,
            "passages": self.passages,
            "url": document_url(self.path) if stored else None,
        }


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def rejected(self) -> bool:
        return any(o.status == "rejected" for o in self.outcomes)

    def counts(self) -> wire.Counts:
        """Files per status, every status named."""
        return {
            "added": self.count("added"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "removed": self.count("removed"),
            "duplicate": self.count("duplicate"),
            "rejected": self.count("rejected"),
        }

    def to_json(self) -> wire.Upload:
        """The body of an upload's answer: each file's outcome and the counts."""
        return {"outcomes": [o.to_json() for o in self.outcomes], "counts": self.counts()}


@dataclass(frozen=True)
class SearchRequest:
    """Everything a front end can ask of a search. Ranges are checked by `home.validate`, and the number
    of values per facet (MAX_SELECTED) by `searcher.check_filters`, which every search and export runs."""

    query: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # facet name -> OR'ed values
    date_from: str | None = None  # ISO day, inclusive
    date_to: str | None = None
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 10
    cursor: str | None = None  # a previous page's `next_cursor`: the page after it (instead of `page`)


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool

    def to_json(self) -> wire.FacetValue:
        """One facet value of a search's (or the stats') facets."""
        return {"value": self.value, "label": self.label, "count": self.count, "selected": self.selected}


def facets_json(facets: dict[str, tuple[FacetValue, ...]]) -> wire.Facets:
    """Every facet of FACETS, empty when `facets` lacks it (an archive with no index)."""

    def values(name: str) -> list[wire.FacetValue]:
        return [f.to_json() for f in facets.get(name, ())]

    return {
        "agency": values("agency"),
        "offence": values("offence"),
        "year": values("year"),
        "source": values("source"),
        "type": values("type"),
    }


@dataclass(frozen=True)
class Hit:
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
    url: str

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
            "url": self.url,
        }


@dataclass(frozen=True)
class SearchResults:
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
        return max(1, -(-self.total_passages // self.per_page))

    def to_json(self) -> wire.DocumentView:
        """The `/documents/{id}` JSON body: metadata, matches and this page's passages."""
        url = document_url(self.id)
        matches = set(self.matches)
        # Without a query, a passage's highlight is its text, escaped as the searcher escapes hits.
        highlights = self.highlights or tuple(html.escape(p.text, quote=False) for p in self.passages)
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
class Problem:
    """One finding of `archive check`: `error` fails the check, `warning` does not."""

    severity: Literal["error", "warning"]
    path: str
    message: str


@dataclass(frozen=True)
class Stats:
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
