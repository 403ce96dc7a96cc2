"""The Whoosh schema of the passage index, and the Whoosh face of the French analysis.

The schema (analyzers included) is pickled into the index, so the tokenizer lives here, in a stable
importable module, and `SCHEMA_VERSION` changes whenever the schema or the analysis changes: an index
built with another version is rebuilt by `archive reindex`, never read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from whoosh import columns, fields, formats
from whoosh.analysis import (
    CompositeAnalyzer,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StripFilter,
    Tokenizer,
)
from whoosh.analysis import Token as WhooshToken
from whoosh.system import pack_uint

from . import analysis, duplicates
from .codec.positions import RawPositions
from .models import Document, Terms

SCHEMA_VERSION = 10
"""7: the text fields' positions are raw ints (`codec.positions.RawPositions`), no longer pickled.
8: keys from inflection rules (`analysis.stem`), no longer Snowball to a fixed point (issue 13).
9: keys from the French lexicon where it knows the word (`analysis.base`, `archive/lexicon.py`); the
lexicon's own digest is recorded beside this version (`indexer.needs_full_rebuild`).
10: each passage's near-duplicate band values in the columns `near0`..`near7` (`archive/duplicates.py`)."""

PASSAGE = "p"
DOCUMENT = "d"

SEARCHABLE = ("content", "title", "section")
"""Fields with analysed French text; `content` is the default."""

QUERY_FIELDS = ("content", "title", "section", "agency", "offence", "year", "source", "type", "doc")
"""Fields a query may name (`title:europol`); the others are internal."""

FACET_FIELDS = ("agency", "offence", "year", "source", "type")


class FrenchTokenizer(Tokenizer):  # type: ignore[misc]
    """Whoosh tokenizer over `archive.analysis`: yields analysis keys, with positions and offsets."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(
        self,
        value: str | Terms,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[WhooshToken]:
        """Whoosh's tokenizer protocol: one token object, reused, per word (the folded value if not tokenizing)."""
        token = WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if isinstance(value, Terms):  # analysed where it was prepared: its kept words, at their positions
            yield from _carried(token, value, positions, start_pos)
            return
        if not tokenize:  # wildcard, prefix and range texts: folded, never stemmed
            token.original = token.text = analysis.fold(value)
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for t in analysis.tokens(value):
            if t.stop and removestops:
                continue
            token.text = t.key
            if keeporiginal:
                token.original = t.word
            token.stopped = t.stop
            token.boost = 1.0
            if positions:
                token.pos = start_pos + t.position
            if chars:
                token.startchar, token.endchar = start_char + t.start, start_char + t.end
            yield token


class Identifier(formats.Existence):  # type: ignore[misc]
    """Whoosh's format for ID fields, without running a tokenizer to learn that the term is the value."""

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Any:
        """The value itself as the one term, where Whoosh's tokenizer would yield just that."""
        if isinstance(value, str) and value and type(analyzer) is IDTokenizer:
            return ((value, 1, self.field_boost, b""),)
        return super().word_values(value, analyzer, **kwargs)


class Keywords(formats.Frequency):  # type: ignore[misc]
    """Whoosh's format for comma-separated KEYWORD fields, without a token object per keyword.

    `KeywordAnalyzer(lowercase=True, commas=True)` is a regex for `[^,]+`, then strip, then lowercase;
    the same steps on the string give the same terms, frequencies and values.
    """

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Any:
        """Each keyword with its count, weight and encoded count, as `Frequency.word_values` gives them."""
        if not (isinstance(value, str) and _commas_lowercase(analyzer)):
            return super().word_values(value, analyzer, **kwargs)
        counts: dict[str, int] = {}
        for piece in _COMMA_SEPARATED.findall(value):
            text = piece.strip().lower()
            counts[text] = counts.get(text, 0) + 1
        boost = self.field_boost
        return [(text, n, n * boost, _packed_count(n)) for text, n in counts.items()]


_COMMA_SEPARATED = re.compile(r"[^,]+")


@lru_cache(maxsize=64)
def _packed_count(n: int) -> bytes:
    return pack_uint(n)  # type: ignore[no-any-return]


def _commas_lowercase(analyzer: Any) -> bool:
    """Whether `analyzer` is `KeywordAnalyzer(lowercase=True, commas=True)`."""
    items = getattr(analyzer, "items", None)
    return (
        isinstance(analyzer, CompositeAnalyzer)
        and items is not None
        and [type(item) for item in items] == [RegexTokenizer, StripFilter, LowercaseFilter]
        and items[0].expression.pattern == _COMMA_SEPARATED.pattern
        and not items[0].gaps
    )


def _keyword_field() -> fields.KEYWORD:
    field = fields.KEYWORD(commas=True, lowercase=True)
    field.format = Keywords(field_boost=field.format.field_boost)
    return field


def _id_field(**kwargs: Any) -> fields.ID:
    field = fields.ID(**kwargs)
    field.format = Identifier(field_boost=field.format.field_boost)
    return field


def _text_field(analyzer: FrenchTokenizer, field_boost: float = 1.0) -> fields.TEXT:
    field = fields.TEXT(analyzer=analyzer, phrase=True, field_boost=field_boost)
    field.format = RawPositions(field_boost=field_boost)
    return field


def build_schema() -> fields.Schema:
    """The Whoosh schema of the index: passage and document records in the same fields."""
    french = FrenchTokenizer()
    return fields.Schema(
        kind=_id_field(),
        id=_id_field(unique=True, stored=True),
        doc=_id_field(stored=True),
        content=_text_field(french),
        title=_text_field(french, field_boost=1.5),
        section=_text_field(french, field_boost=1.2),
        agency=_keyword_field(),
        offence=_keyword_field(),
        year=_id_field(),
        source=_id_field(),
        type=_id_field(),
        date=_id_field(),
        **{name: fields.COLUMN(columns.NumericColumn("I")) for name in duplicates.COLUMNS},  # near-duplicates
        position=fields.COLUMN(columns.NumericColumn("i")),  # read as an array, never searched
        data=fields.STORED(),
    )


def records(document: Document, words: Callable[[Mapping[str, str]], None]) -> Iterator[dict[str, Any]]:
    """The fields of a document's index records: one per passage (`kind=p`), then its own (`kind=d`).

    A passage's text goes to the index as the `Terms` it was analysed into when it was prepared (as an
    `Analyzed` text when it carries none). The words of its title and of each passage, as analysed
    (folded -> as written), go to `words`.
    """
    meta = document.metadata
    title = analysis.Analyzed(meta.title)
    words(title.words())
    common = _common(document)
    sections: dict[str, analysis.Analyzed] = {}
    for p in document.passages:
        section = sections.get(p.section)
        if section is None:
            section = sections[p.section] = analysis.Analyzed(p.section)
        # analysed once, when the document was prepared; a passage built otherwise is analysed here
        content = p.terms if p.terms is not None else analysis.Analyzed(p.text)
        words(content.vocabulary if isinstance(content, Terms) else content.words())
        agency = _merge(p.agency, meta.agency)
        offence = _merge(p.offence, meta.offence)
        yield {
            "kind": PASSAGE,
            "id": p.id,
            "content": content,
            "title": title,
            "section": section,
            "agency": ",".join(agency),
            "offence": ",".join(offence),
            **dict(zip(duplicates.COLUMNS, duplicates.keys(p.text), strict=False)),
            "position": p.position,
            "data": {
                "position": p.position,
                "section": p.section,
                "text": p.text,
                "start": p.start,
                "end": p.end,
                "agency": agency,
                "offence": offence,
            },
            **common,
        }
    yield _document_record(document)


def _common(document: Document) -> dict[str, Any]:
    """The fields every record of a document has: its id, and its source, type, year and date if known."""
    meta = document.metadata
    year = str(meta.year) if meta.year else None
    common: dict[str, Any] = {"doc": document.id}
    if meta.source:
        common["source"] = meta.source
    if meta.type:
        common["type"] = meta.type
    if year:
        common["year"] = year
    if meta.date:
        common["date"] = meta.date
    return common


def _document_record(document: Document) -> dict[str, Any]:
    """The document's own record: what the archive knows of it, stored, and its id to find it by."""
    meta = document.metadata
    return {
        "kind": DOCUMENT,
        "id": document.id,
        "doc": document.id,
        "data": {
            "sha256": document.sha256,
            "fingerprint": document.fingerprint,
            "format": document.format,
            "size": document.size,
            "passages": len(document.passages),
            "title": meta.title,
            "date": meta.date,
            "source": meta.source,
            "type": meta.type,
            "language": meta.language,
            "description": meta.description,
            "url": meta.url,
            "explicit_agency": list(meta.agency),
            "explicit_offence": list(meta.offence),
            "agency": list(document.agency),
            "offence": list(document.offence),
            "indexed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> list[str]:
    """Both groups of ids, first seen first."""
    return list(dict.fromkeys((*a, *b)))


def _carried(token: WhooshToken, terms: Terms, positions: bool, start_pos: int) -> Iterator[WhooshToken]:
    """The tokens of a passage analysed elsewhere (`Terms`: no offsets, no stop words), for a field whose
    format reads tokens rather than our arrays (a Whoosh `Positions` field of an older index)."""
    for key, position in zip(terms.keys, terms.positions, strict=True):
        token.text, token.stopped, token.boost = key, False, 1.0
        if positions:
            token.pos = start_pos + position
        yield token
