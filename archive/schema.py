"""The Whoosh schema of the passage index, and the Whoosh face of the French analysis.

The schema (analyzers included) is pickled into the index, so the tokenizer lives here, in a stable
importable module, and `SCHEMA_VERSION` changes whenever the schema or the analysis changes: an index
built with another version is rebuilt by `archive reindex`, never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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

from . import analysis

SCHEMA_VERSION = 6

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
        value: str,
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
        token = WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
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
        if isinstance(value, str) and value and type(analyzer) is IDTokenizer:
            return ((value, 1, self.field_boost, b""),)
        return super().word_values(value, analyzer, **kwargs)


class Keywords(formats.Frequency):  # type: ignore[misc]
    """Whoosh's format for comma-separated KEYWORD fields, without a token object per keyword.

    `KeywordAnalyzer(lowercase=True, commas=True)` is a regex for `[^,]+`, then strip, then lowercase;
    the same steps on the string give the same terms, frequencies and values.
    """

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Any:
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
    return fields.TEXT(analyzer=analyzer, phrase=True, field_boost=field_boost)


def build_schema() -> fields.Schema:
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
        position=fields.COLUMN(columns.NumericColumn("i")),  # read as an array, never searched
        data=fields.STORED(),
    )
