"""The Whoosh schema of the passage index, and the Whoosh face of the French analysis.

The schema (analyzers included) is pickled into the index, so the tokenizer lives here, in a stable
importable module, and `SCHEMA_VERSION` changes whenever the schema or the analysis changes: an index
built with another version is rebuilt by `archive reindex`, never read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh import columns, fields, formats
from whoosh.analysis import Token as WhooshToken
from whoosh.analysis import Tokenizer

from . import analysis

SCHEMA_VERSION = 4

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
        found = value.tokens if isinstance(value, analysis.Analyzed) else analysis.tokens(value)
        for t in found:
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


class FrenchPositions(formats.Positions):  # type: ignore[misc]
    """Whoosh's positions format, fed straight from text the indexer already analysed.

    Whoosh builds a posting list from a stream of token objects, one generator step per word; an
    `Analyzed` text already holds its tokens, so the positions of each key are gathered in one loop.
    The bytes written are Whoosh's own (`Positions.encode`): readers and merges see no difference.
    """

    def word_values(
        self, value: Any, analyzer: Any, **kwargs: Any
    ) -> Iterator[tuple[str, int, float, bytes]]:
        if not isinstance(value, analysis.Analyzed):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        positions: dict[str, list[int]] = {}
        for t in value.tokens:
            if not t.stop:
                found = positions.get(t.key)
                if found is None:
                    positions[t.key] = [t.position]
                else:
                    found.append(t.position)
        boost = self.field_boost
        encode = self.encode
        for key, found in positions.items():
            yield key, len(found), len(found) * boost, encode(found)


def _text_field(analyzer: FrenchTokenizer, field_boost: float = 1.0) -> fields.TEXT:
    field = fields.TEXT(analyzer=analyzer, phrase=True, field_boost=field_boost)
    field.format = FrenchPositions(field_boost=field_boost)
    return field


def build_schema() -> fields.Schema:
    french = FrenchTokenizer()
    return fields.Schema(
        kind=fields.ID(),
        id=fields.ID(unique=True, stored=True),
        doc=fields.ID(stored=True),
        content=_text_field(french),
        title=_text_field(french, field_boost=1.5),
        section=_text_field(french, field_boost=1.2),
        agency=fields.KEYWORD(commas=True, lowercase=True),
        offence=fields.KEYWORD(commas=True, lowercase=True),
        year=fields.ID(),
        source=fields.ID(),
        type=fields.ID(),
        date=fields.ID(),
        position=fields.COLUMN(columns.NumericColumn("i")),  # read as an array, never searched
        data=fields.STORED(),
    )
