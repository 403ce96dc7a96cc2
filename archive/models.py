"""The core's own value types for what goes in: documents, their metadata, blocks and passages.

Whoosh objects never leave the indexing and searching modules; everything else speaks these dataclasses.
They carry ids, never web addresses: each `to_json()` adds the `url` fields of the JSON bodies through
`wire.document_path`, the one place the link shape is built. What a write did (outcomes, reports, the
problems `check` finds) is in outcomes.py; what a search asks, request.py; what it answers, results.py.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from . import wire

FACETS: tuple[str, ...] = ("agency", "offence", "year", "source", "type")
"""The facet names, in the order front ends show them."""

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
            "permalink": wire.permalink(self.document, self.start),
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
