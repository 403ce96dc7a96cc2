"""Phrases in queries: the phrase syntax the archive's parser reads, and the phrases a query asks to mark.

A quoted phrase keeps the places of its stop words (`"garde à vue"` wants "vue" two words after "garde"),
and Whoosh's slop syntax loosens it (`"délai prescription"~3`: up to two more words between two words of
the phrase, still in order). Both become chains of `SpanNear` queries; `marks` reads them back, with the
query's single words, as what a passage's highlight marks (highlighting.py). Like query.py, it may import
Whoosh.
"""

from __future__ import annotations

import re

from whoosh import query as wq
from whoosh.qparser import QueryParser, syntax
from whoosh.qparser.plugins import PhrasePlugin
from whoosh.query.spans import SpanNear

from . import analysis
from .highlighting import Marks, Phrase
from .schema import SEARCHABLE

MAX_SLOP = 50
"""A phrase's slop (`"délai prescription"~3`) is cut to this: farther apart, words are no longer near."""

MAX_PHRASE_WORDS = 64
"""Words of a phrase beyond this are left out (as `query.MAX_TERMS` bounds a query's terms)."""


class _Near(SpanNear):  # type: ignore[misc]
    """Whoosh's SpanNear, with the size estimates its AND needs to order sub-queries (two phrases)."""

    def estimate_size(self, ixreader: object) -> int:
        """At most as many matches as the rarer side."""
        return int(min(self.a.estimate_size(ixreader), self.b.estimate_size(ixreader)))

    def estimate_min_size(self, ixreader: object) -> int:
        """Possibly none: the words may never stand at the right distance."""
        return 0


class _GapPhraseNode(PhrasePlugin.PhraseNode):  # type: ignore[misc]
    """A quoted phrase whose words must stand at the same distances as in the query, stop words included;
    with a slop (`"délai prescription"~3`, Whoosh's syntax), up to slop - 1 more words between two of them."""

    def query(self, parser: QueryParser) -> wq.Query:
        """The phrase's words chained by distance (`_Near`), its stop words only keeping their place."""
        fieldname = self.fieldname or parser.fieldname
        parts = phrase_words(self.text)
        if not parts:
            return wq.NullQuery
        slop = min(self.slop, MAX_SLOP)
        q: wq.Query = wq.Term(fieldname, parts[0][0])
        previous = parts[0][1]
        for key, position in parts[1:MAX_PHRASE_WORDS]:
            gap = position - previous
            low, high = (gap, gap) if slop <= 1 else (1, gap + slop - 1)
            q = _Near(q, wq.Term(fieldname, key), slop=high, mindist=low)
            previous = position
        if self.boost != 1:
            q.boost = self.boost
        return syntax.attach(q, self)


def phrase_words(text: str) -> list[tuple[str, int]]:
    """The keys of a phrase's words that are not stop words, with their positions (stop words counted)."""
    seen: set[int] = set()
    parts: list[tuple[str, int]] = []
    for t in analysis.tokens(text):
        if t.position in seen:  # the joined form of a hyphenated word: its parts are enough
            continue
        seen.add(t.position)
        if not t.stop:
            parts.append((t.key, t.position))
    return parts


class _GapPhraseTagger(PhrasePlugin.PhraseTagger):  # type: ignore[misc]
    def create(self, parser: QueryParser, match: re.Match[str]) -> _GapPhraseNode:
        """A gap-keeping phrase node for the quoted text, with its slop when `~N` follows it."""
        slop = match.group("slop")
        return _GapPhraseNode(match.group("text"), match.start("text"), int(slop) if slop else 1)


class GapPhrasePlugin(PhrasePlugin):  # type: ignore[misc]
    """Whoosh's phrase syntax read by `_GapPhraseNode`: stop words keep their places, `~N` loosens."""

    PhraseTagger = _GapPhraseTagger


def slop_notes(node: syntax.SyntaxNode) -> list[str]:
    """What each sloppy phrase of the query was understood to mean (a slop of 1 is an exact phrase)."""
    if isinstance(node, PhrasePlugin.PhraseNode):
        slop = min(node.slop, MAX_SLOP)
        if slop <= 1:
            return []
        cut = f" (ramené à {MAX_SLOP})" if node.slop > MAX_SLOP else ""
        return [
            f"« {node.text} »~{slop} : ces mots dans cet ordre, avec jusqu'à {slop - 1} autre(s) mot(s) "
            f"entre deux d'entre eux{cut}"
        ]
    return [n for child in getattr(node, "nodes", []) or [] for n in slop_notes(child)]


def marks(q: wq.Query | None) -> Marks:
    """What a hit's text should mark for this query: its words (index keys) and its phrases, whole (not the
    negated ones)."""
    words: set[str] = set()
    phrases: dict[Phrase, None] = {}  # a phrase is asked of each field: marked once

    def walk(node: wq.Query) -> None:
        if isinstance(node, wq.Not):
            return
        if isinstance(node, SpanNear):
            chain = _phrase_of(node)
            if chain is not None:
                phrases[chain] = None
            return
        if isinstance(node, wq.Term):
            if node.fieldname in SEARCHABLE:
                words.add(_text(node.text))
            return
        for child in node.children():
            walk(child)

    if q is not None:
        walk(q)
    return Marks(frozenset(words), tuple(phrases))


def _phrase_of(q: SpanNear) -> Phrase | None:
    """A phrase query (`_GapPhraseNode`'s chain of `_Near`) as keys and gaps; None for other spans."""
    keys: list[str] = []
    gaps: list[tuple[int, int]] = []
    node: wq.Query = q
    while isinstance(node, SpanNear) and isinstance(node.b, wq.Term) and node.ordered:
        keys.append(_text(node.b.text))
        gaps.append((node.mindist, node.slop))
        node = node.a
    if not isinstance(node, wq.Term) or node.fieldname not in SEARCHABLE:
        return None
    keys.append(_text(node.text))
    return Phrase(tuple(reversed(keys)), tuple(reversed(gaps)))


def _text(text: object) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)
